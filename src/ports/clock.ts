/**
 * The time, as a parameter: use cases and adapters take a clock instead of calling `new Date()`,
 * so tests and restatements can run "as of" any instant.
 */
export type Clock = () => Date;

/** The system clock. */
export const systemClock: Clock = () => new Date();
