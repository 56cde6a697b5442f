import { isUserChannel } from "./channels.ts";
import type { Delivery } from "./frames.ts";
import type { RealtimeMetrics } from "./metrics.ts";
import type { ClientSocket, WireFrame } from "./transport.ts";

export interface OutboundOptions {
  /** Bytes in the socket's send buffer beyond which non-critical frames are dropped. */
  maxBufferedBytes: number;
  /** Frames handed to the socket and not yet written beyond which the same happens. */
  maxQueuedFrames: number;
  /** How long the socket may stay congested before `onSlow`. */
  slowClientGraceMs: number;
  metrics: RealtimeMetrics;
  /** The encoded gap notice of `channel` (in the connection's subprotocol). */
  gapFrame(channel: string, dropped: number, resumeCursor: string): WireFrame;
  /** The socket stayed congested for the whole grace period: the connection closes it. */
  onSlow(): void;
}

/** Frames of one channel dropped since the client last heard of it. */
interface Gap {
  dropped: number;
  resumeCursor: string;
}

/**
 * The way out of one socket: every frame is handed to the socket at once (the socket's own
 * buffer is the queue: nothing here waits or awaits, so a slow client never holds up the
 * fan-out to the others), within two limits — bytes in the buffer and frames not yet written,
 * counted by the socket's write callbacks.
 *
 * An event frame that would go over a limit is dropped and counted for its channel, and the
 * socket is *congested*: from then on every droppable frame is dropped until the buffer drains
 * to half of both limits. Then each channel that lost frames gets a `gap` frame (how many, and
 * the cursor of the last frame it got before them) ahead of anything newer of that channel.
 * Frames that are never dropped: critical events (SOS), which go out even over the limits —
 * preceded by their channel's gap notice, if any — and frames that are not channel events
 * (replies, notices), which are small and paced by the client's message rate. A socket still
 * congested after the grace period is handed to `onSlow` (4008).
 */
export class Outbound {
  readonly #socket: ClientSocket;
  readonly #options: OutboundOptions;
  /** Frames handed to the socket whose write callback has not run yet. */
  #queued = 0;
  #congested = false;
  #grace: NodeJS.Timeout | undefined;
  #closed = false;
  /** The cursor of the last event frame sent, per channel. */
  readonly #lastCursor = new Map<string, string>();
  /** Channels that lost frames, in the order they first did. */
  readonly #gaps = new Map<string, Gap>();
  /** The write callback: one function for the connection's life, not one per frame. */
  readonly #written = () => {
    this.#queued -= 1;
    if (this.#congested && this.#drained()) this.#recover();
  };

  constructor(socket: ClientSocket, options: OutboundOptions) {
    this.#socket = socket;
    this.#options = options;
  }

  /** Frames handed to the socket and not written yet. */
  get queued(): number {
    return this.#queued;
  }

  /** Whether droppable frames are being dropped now. */
  get congested(): boolean {
    return this.#congested;
  }

  /**
   * Sends `frame` (of `kind`, the metric's label), or drops it when `delivery` says it is a
   * droppable event and the socket is congested or would go over a limit. Returns whether it
   * was sent.
   */
  send(frame: WireFrame, kind: string, delivery?: Delivery): boolean {
    if (this.#closed) return false;
    if (delivery !== undefined && !delivery.critical) {
      if (this.#congested || this.#wouldOverflow(frame)) {
        this.#drop(delivery);
        this.#congest();
        return false;
      }
    }
    if (delivery !== undefined && this.#gaps.size > 0) this.#flushGap(delivery.channel);
    this.#write(frame, kind, delivery);
    if (!this.#congested && this.#over()) this.#congest();
    return true;
  }

  /** Forgets a channel the client left: its position and any gap not told yet. */
  forget(channel: string): void {
    this.#lastCursor.delete(channel);
    this.#gaps.delete(channel);
  }

  /** Sends nothing more; stops the grace timer. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#grace);
    this.#grace = undefined;
    this.#gaps.clear();
    this.#lastCursor.clear();
  }

  #wouldOverflow(frame: WireFrame): boolean {
    if (this.#queued + 1 > this.#options.maxQueuedFrames) return true;
    const buffered = this.#socket.bufferedAmount;
    // A frame larger than the limit still goes out when the buffer is empty: it would never fit.
    return buffered > 0 && buffered + byteLength(frame) > this.#options.maxBufferedBytes;
  }

  #over(): boolean {
    return (
      this.#queued > this.#options.maxQueuedFrames ||
      this.#socket.bufferedAmount > this.#options.maxBufferedBytes
    );
  }

  /** Drained enough to stop dropping: at most half of each limit waits. */
  #drained(): boolean {
    return (
      this.#queued <= this.#options.maxQueuedFrames / 2 &&
      this.#socket.bufferedAmount <= this.#options.maxBufferedBytes / 2
    );
  }

  #drop(delivery: Delivery): void {
    let gap = this.#gaps.get(delivery.channel);
    if (gap === undefined) {
      gap = { dropped: 0, resumeCursor: this.#lastCursor.get(delivery.channel) ?? "" };
      this.#gaps.set(delivery.channel, gap);
    }
    gap.dropped = Math.min(gap.dropped + 1, 0xffff_ffff);
    this.#options.metrics.framesDropped.inc({
      channel_kind: isUserChannel(delivery.channel) ? "user" : "circle",
    });
  }

  #congest(): void {
    if (this.#congested) return;
    this.#congested = true;
    this.#grace = setTimeout(() => {
      this.#grace = undefined;
      if (this.#closed) return;
      // The write callbacks normally end a congestion; this catches one they could not see.
      if (this.#drained()) this.#recover();
      else this.#options.onSlow();
    }, this.#options.slowClientGraceMs);
    this.#grace.unref();
  }

  #recover(): void {
    if (this.#closed) return;
    this.#congested = false;
    clearTimeout(this.#grace);
    this.#grace = undefined;
    for (const channel of [...this.#gaps.keys()]) this.#flushGap(channel);
  }

  #flushGap(channel: string): void {
    const gap = this.#gaps.get(channel);
    if (gap === undefined) return;
    this.#gaps.delete(channel);
    this.#write(this.#options.gapFrame(channel, gap.dropped, gap.resumeCursor), "gap", undefined);
  }

  #write(frame: WireFrame, kind: string, delivery: Delivery | undefined): void {
    this.#queued += 1;
    this.#socket.send(frame, this.#written);
    const { metrics } = this.#options;
    metrics.framesSent.inc({ frame: kind });
    if (delivery === undefined) return;
    this.#lastCursor.set(delivery.channel, delivery.cursor);
    if (delivery.occurredAt !== undefined) {
      const seconds = (Date.now() - delivery.occurredAt.getTime()) / 1_000;
      metrics.deliveryLatency.observe(Math.max(0, seconds));
    }
  }
}

function byteLength(frame: WireFrame): number {
  return typeof frame === "string" ? Buffer.byteLength(frame) : frame.byteLength;
}
