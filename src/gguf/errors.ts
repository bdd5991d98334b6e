// Codes for GGUF files we cannot read or convert (beside the shared ErrorCode list).
export const GgufErrorCode = {
  /** Not a GGUF file, an unsupported GGUF version, or a header/offset that does not fit the file. */
  Invalid: 'GGUF_INVALID',
  /** A well-formed file using something we do not convert: a tensor type, an architecture, a tensor name. */
  Unsupported: 'GGUF_UNSUPPORTED',
} as const;
