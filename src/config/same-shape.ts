// SameShape<A, B>: true when A and B have the same keys, each as optional, and accept the same
// values; used to hold a documented options interface equal to the zod schema that parses it.
// (Mutual assignability alone lets optional keys present on one side only slip through.)
export type SameShape<A, B> = [keyof A] extends [keyof B]
  ? [keyof B] extends [keyof A]
    ? [A] extends [B]
      ? [B] extends [A]
        ? true
        : false
      : false
    : false
  : false;
