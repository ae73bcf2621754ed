/**
 * Quotes text taken from a policy file for an error message: JSON-style double quotes, control
 * characters escaped, at most 64 characters kept, so a hostile line cannot forge log output.
 */
export function quote(text: string): string {
  const max = 64;
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}
