// The few HTML building blocks the run report needs. Every piece of text passes through
// escapeHtml here, so a config value or a data row reason can never become markup.

/** Text safe in HTML content and in double- or single-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface TableOptions {
  id?: string;
  className?: string;
  /** Render the first cell of each row as a row header (<th scope="row">). */
  rowHeaders?: boolean;
  /** Class per column, e.g. 'num' to right-align numbers. */
  columnClasses?: (string | undefined)[];
}

function attrs(o: { id?: string | undefined; class?: string | undefined; scope?: string }): string {
  return Object.entries(o)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => ` ${k}="${escapeHtml(v as string)}"`)
    .join('');
}

/** A <table> of text cells (escaped) with one header row, or none when `header` is empty. */
export function htmlTable(header: readonly string[], rows: readonly (readonly string[])[], o: TableOptions = {}): string {
  const cls = (i: number) => o.columnClasses?.[i];
  const head = `<tr>${header.map((h, i) => `<th${attrs({ scope: 'col', class: cls(i) })}>${escapeHtml(h)}</th>`).join('')}</tr>`;
  const body = rows
    .map((row) => {
      const cells = row.map((cell, i) =>
        i === 0 && o.rowHeaders ? `<th${attrs({ scope: 'row', class: cls(i) })}>${escapeHtml(cell)}</th>` : `<td${attrs({ class: cls(i) })}>${escapeHtml(cell)}</td>`,
      );
      return `<tr>${cells.join('')}</tr>`;
    })
    .join('\n');
  const thead = header.length > 0 ? `<thead>${head}</thead>\n` : '';
  return `<table${attrs({ id: o.id, class: o.className })}>\n${thead}<tbody>\n${body}\n</tbody>\n</table>`;
}
