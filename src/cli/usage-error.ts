/** Bad arguments or unreadable input: the CLI prints the one-line message and exits 2 (contracts.md §6). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
