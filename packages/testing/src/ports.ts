import { createServer } from "node:net";

/**
 * A TCP port on 127.0.0.1 that nothing listens on (bound, then released): connecting to it is
 * refused, which is how tests point a service at a dependency that is down.
 */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  return address.port;
}
