// Parquet rows through hyparquet (pure JavaScript, no native code). hyparquet decodes
// uncompressed and snappy pages itself, which covers what pandas and pyarrow write by default;
// other codecs (gzip, zstd, ...) need the separate hyparquet-compressors package, which we do not
// ship, so they fail with a message saying how to re-save the file.
import { readFile } from 'node:fs/promises';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { ErrorCode, SftError } from '../errors.js';
import { checkParquetFooter, checkParquetPages } from './parquet-thrift-check.js';
import { type DataRow, rowValues } from './row.js';

/** Rows of a parquet file held in memory; `file` names it in rows and errors. Row n is the n-th row (1-based). */
export async function parseParquet(bytes: Uint8Array, file: string): Promise<DataRow[]> {
  // An exact ArrayBuffer of the bytes: a Node Buffer may be a view into a larger pool.
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let objects: Record<string, unknown>[];
  try {
    checkParquetFooter(bytes, file);
    const chunks = parquetMetadata(buffer).row_groups.flatMap((g) =>
      g.columns.flatMap((c) => (c.meta_data ? [{ start: Number(c.meta_data.dictionary_page_offset ?? c.meta_data.data_page_offset), size: Number(c.meta_data.total_compressed_size) }] : [])),
    );
    checkParquetPages(bytes, file, chunks);
    objects = await parquetReadObjects({ file: buffer });
  } catch (err) {
    if (err instanceof SftError) throw err;
    const message = (err as Error).message;
    const hint = /compress|codec/i.test(message)
      ? '; only uncompressed and snappy parquet files are supported: re-save with compression="snappy" (the pandas and pyarrow default)'
      : '';
    throw new SftError(`${file}: cannot read as parquet (${message})${hint}`, ErrorCode.InvalidData);
  }
  return objects.map((object, index) => ({ file, row: index + 1, values: rowValues(object) }));
}

/** Rows of a parquet file on disk. */
export async function readParquet(path: string): Promise<DataRow[]> {
  return parseParquet(await readFile(path), path);
}
