/**
 * A real terminal for the tests: tmux with a server of its own, driven by send-keys and read by
 * capture-pane, as a person would type and read.
 */
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, waitFor } from "../tools/processes";
import { run } from "./programs";

/**
 * A real terminal: a tmux server of its own (its own socket), one window running `command`.
 * The command runs under `sh`, which writes its exit status to a file: tmux's own record of it
 * (#{pane_dead_status}) proved unreliable here, leaving the finished program a zombie now and then.
 */
export class Terminal {
  private readonly socketName = `chat-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  private readonly statusFile = join(tmpdir(), `${this.socketName}.status`);
  private pids: number[] = [];

  async start(command: string[], { columns = 80, rows = 24, cwd = ROOT } = {}): Promise<void> {
    const quote = (part: string) => `'${part.replaceAll("'", "'\\''")}'`;
    const shellCommand = `${command.map(quote).join(" ")}; echo $? > ${quote(this.statusFile)}`;
    await this.tmux(
      "new-session",
      "-d",
      "-x",
      String(columns),
      "-y",
      String(rows),
      "-c",
      cwd,
      shellCommand,
      ";",
      "set-option",
      "remain-on-exit",
      "on",
    );
    const [serverPid, shellPid] = (await this.tmux("display-message", "-p", "#{pid} #{pane_pid}")).trim().split(" ");
    // The shell leads the window's process group, which holds the program too: -pid stops both.
    this.pids = [-Number(shellPid), Number(serverPid)];
  }

  /** Types text literally, as a person would. */
  type(text: string): Promise<string> {
    return this.tmux("send-keys", "-l", text);
  }

  /** Pastes `text` as a terminal does, marked as a paste if the program asked for that (tmux paste-buffer -p). */
  async paste(text: string): Promise<void> {
    // From a file: tmux refuses a command line longer than 16 KiB, so set-buffer cannot take a long paste.
    const file = join(tmpdir(), `${this.socketName}.paste`);
    await Bun.write(file, text);
    try {
      await this.tmux("load-buffer", "-b", "test-paste", file);
    } finally {
      rmSync(file, { force: true });
    }
    await this.tmux("paste-buffer", "-p", "-d", "-b", "test-paste");
  }

  /** Presses keys by tmux name: Enter, Left, C-c, ... */
  press(...keys: string[]): Promise<string> {
    return this.tmux("send-keys", ...keys);
  }

  /** The visible screen as plain text (with `colours`, with its escape sequences), trailing blank lines removed. */
  async screen({ colours = false } = {}): Promise<string> {
    const text = await this.tmux("capture-pane", "-p", ...(colours ? ["-e"] : []));
    // tmux notes a finished program on the last line ("Pane is dead ..."); that is not the program's.
    return text.replace(/\nPane is dead \(.*\)\s*$/, "").trimEnd();
  }

  /** Everything the terminal has shown: the screen and all of its scrollback, as plain text. */
  async scrollback(): Promise<string> {
    return (await this.tmux("capture-pane", "-p", "-S", "-")).trimEnd();
  }

  /** The title the program set for its pane (OSC 0/2), as tmux keeps it. */
  async paneTitle(): Promise<string> {
    return (await this.tmux("display-message", "-p", "#{pane_title}")).trim();
  }

  /** Waits until the screen satisfies `check`; returns the screen. */
  async waitForScreen(what: string, check: (screen: string) => boolean, timeoutMs = 8_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const screen = await this.screen();
      if (check(screen)) return screen;
      if (Date.now() > deadline)
        throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}; the screen shows:\n${screen}`);
      await Bun.sleep(50);
    }
  }

  /** Waits for the command in the window to exit; returns its exit status. */
  async waitForExit(timeoutMs = 8_000): Promise<number> {
    const status = await waitFor(
      "the program to exit",
      () => {
        try {
          const text = readFileSync(this.statusFile, "utf8");
          return text.endsWith("\n") ? Number(text) : undefined;
        } catch {
          return undefined;
        }
      },
      timeoutMs,
    ).catch(async (error: Error) => {
      throw new Error(`${error.message}; the screen shows:\n${await this.screen()}`);
    });
    return status;
  }

  /** Stops the program and the tmux server by their pids. */
  stop(): void {
    rmSync(this.statusFile, { force: true });
    for (const pid of this.pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    this.pids = [];
  }

  private async tmux(...args: string[]): Promise<string> {
    const result = await run(["tmux", "-L", this.socketName, "-f", "/dev/null", ...args], { timeoutMs: 5_000 });
    if (result.exitCode !== 0) throw new Error(`tmux ${args[0]} failed: ${result.stderr.trim()}`);
    return result.stdout;
  }
}
