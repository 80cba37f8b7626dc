<?php

declare(strict_types=1);

namespace WebhookIngress\Worker;

/**
 * One webhook as the handler sees it: the exact bytes the provider sent and the message's attributes.
 */
final class Event
{
    /**
     * @param string                $body        the webhook's body, byte for byte (decoded, or read from S3)
     * @param string                $id          the `event-id` attribute
     * @param string|null           $type        `event-type`, when known
     * @param string                $source      `source` (the deployment's SOURCE_NAME)
     * @param string|null           $receivedAt  `received-at` (RFC 3339, first receipt)
     * @param string|null           $conflictOf  `id-conflict-of`: the SHA-256 (hex) of the first body under this id
     * @param string|null           $deliveredBy `delivered-by`: ingress, sweeper, outboxctl or backfill
     * @param string                $dedupeKey   the key stored once per effect: `id`, or `id#sha256(body)` under a conflict
     * @param array<string, string> $attributes  every message attribute, by name
     * @param string                $messageId   the SQS message id of this delivery
     */
    public function __construct(
        public readonly string $body,
        public readonly string $id,
        public readonly ?string $type,
        public readonly string $source,
        public readonly ?string $receivedAt,
        public readonly ?string $conflictOf,
        public readonly ?string $deliveredBy,
        public readonly string $dedupeKey,
        public readonly array $attributes,
        public readonly string $messageId = '',
    ) {
    }

    /** A test event (`outboxctl send-test`): acknowledged and deleted, never handled. */
    public function isTest(): bool
    {
        return $this->type === Contract::TEST_EVENT_TYPE;
    }

    /** The body parsed as JSON (objects as arrays); throws \JsonException when it is not JSON. */
    public function json(): mixed
    {
        return json_decode($this->body, true, 512, JSON_THROW_ON_ERROR);
    }
}
