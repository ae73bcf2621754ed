/**
 * An HTTP answer's body read with a ceiling, for the places that fetch from a server they do not
 * control (an auth webhook, a coordinator): a server sending too much costs at most `max` bytes of
 * memory and never a wait for the rest.
 *
 * Contract: resolves to the body decoded as UTF-8 when it is at most `max` bytes (empty when there
 * is none), or to undefined as soon as it is known to be larger: at once when Content-Length says
 * so, otherwise once the bytes read pass `max`. In both cases the body is cancelled and the rest
 * is never read. A failure of the stream itself rejects.
 */
export async function readBodyUpTo(res: Response, max: number): Promise<string | undefined> {
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (declared > max) {
    await res.body?.cancel().catch(() => undefined);
    return undefined;
  }
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
