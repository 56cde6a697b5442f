/** Where the real servers of the test suite live; the same variables `npm start` uses. */
export const testEnv = {
  databaseUrl: process.env.DATABASE_URL ?? "postgres://postgres:postgres@127.0.0.1:5432/postgres",
  redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
  natsUrl: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
} as const;
