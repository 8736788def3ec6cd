/**
 * Two small tools the session uses on its socket: the ids it gives its own messages, and a ping
 * that waits for its pong (how pipe mode knows the server has answered everything before it).
 */

/** An id for one of our messages: random, so that nobody else's can have it by chance. */
export function messageId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_");
}

/** Pings and resolves true on the pong; false once `quiet()` or the socket is no longer open. */
export function pingPong(socket: WebSocket, quiet: () => boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const finish = (answered: boolean) => {
      clearInterval(check);
      socket.removeEventListener("pong", onPong);
      resolve(answered);
    };
    const onPong = () => finish(true);
    const check = setInterval(() => {
      if (quiet() || socket.readyState !== WebSocket.OPEN) finish(false);
    }, 50);
    socket.addEventListener("pong", onPong);
    // Bun's WebSocket can ping, a browser's cannot: only the pipe and --json modes settle.
    (socket as WebSocket & { ping(): void }).ping();
  });
}
