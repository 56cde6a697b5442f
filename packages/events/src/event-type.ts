import type { DescMessage } from "@bufbuild/protobuf";

/**
 * One kind of event: its protobuf message and the subject it is published on,
 * `<domain>.<entity>.<verb>.v<N>`. A breaking change is a new message and a new `vN`.
 */
export interface EventType<Desc extends DescMessage = DescMessage> {
  /** `content.post.created` */
  readonly name: string;
  /** The major schema version, `N` of the subject. */
  readonly version: number;
  /** `content.post.created.v1` */
  readonly subject: string;
  /** The producing domain (and deployable): `content`. */
  readonly domain: string;
  /** What the event is about, `post`: events of one aggregate keep their order. */
  readonly aggregateType: string;
  readonly schema: Desc;
}

const subjectPattern = /^([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)\.v([1-9][0-9]*)$/;

/**
 * `options.aggregateType` names the aggregate when it is not the subject's entity: a circle's
 * member events belong to the circle (`circles.member.joined.v1` → `circle`), so they stay in
 * one ordered chain with the circle's own events from outbox to consumer.
 */
export function defineEvent<Desc extends DescMessage>(
  schema: Desc,
  subject: string,
  options: { aggregateType?: string } = {},
): EventType<Desc> {
  const match = subjectPattern.exec(subject);
  if (match === null) {
    throw new Error(`event subject must be <domain>.<entity>.<verb>.v<N>, got "${subject}"`);
  }
  const [, domain, entity, verb, version] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
  ];
  return Object.freeze({
    name: `${domain}.${entity}.${verb}`,
    version: Number(version),
    subject,
    domain,
    aggregateType: options.aggregateType ?? entity,
    schema,
  });
}
