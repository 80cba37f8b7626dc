<?php

declare(strict_types=1);

namespace WebhookIngress\Worker;

/**
 * The queue's message contract, consumer side: attribute names, body decoding, the claim-check
 * pointer and the deduplication key. Pure functions, no I/O (the S3 read goes through a BodyFetcher).
 */
final class Contract
{
    public const ATTR_EVENT_ID = 'event-id';
    public const ATTR_SOURCE = 'source';
    public const ATTR_EVENT_TYPE = 'event-type';
    public const ATTR_RECEIVED_AT = 'received-at';
    public const ATTR_DELIVERED_BY = 'delivered-by';
    public const ATTR_BODY_ENCODING = 'body-encoding';
    public const ATTR_ID_CONFLICT_OF = 'id-conflict-of';
    public const ATTR_REPLAY_OF = 'replay-of';
    /** Number attribute beside an Extended Client pointer body: the object's size in bytes. */
    public const ATTR_EXTENDED_PAYLOAD_SIZE = 'ExtendedPayloadSize';
    public const ENCODING_BASE64 = 'base64';
    public const ENCODING_EMPTY = 'empty';
    public const POINTER_CLASS = 'software.amazon.payloadoffloading.PayloadS3Pointer';
    /** `event-type` of `outboxctl send-test`'s events: acknowledged and deleted, never handled. */
    public const TEST_EVENT_TYPE = 'outboxctl.test';

    private function __construct()
    {
    }

    /**
     * The exact bytes of the webhook from a message body and its `body-encoding` (null when absent).
     *
     * @throws MessageError on an unknown encoding or a body that is not valid base64
     */
    public static function decodeBody(string $messageBody, ?string $encoding): string
    {
        switch ($encoding) {
            case null:
                return $messageBody;
            case self::ENCODING_EMPTY:
                return '';
            case self::ENCODING_BASE64:
                $bytes = base64_decode($messageBody, true);
                if ($bytes === false) {
                    throw new MessageError('the body is not valid base64 although body-encoding is base64');
                }
                return $bytes;
            default:
                throw new MessageError(sprintf('unknown body-encoding %s', json_encode($encoding)));
        }
    }

    /**
     * The S3 object an Extended Client pointer body names, as [bucket, key].
     *
     * @return array{0: string, 1: string}
     * @throws MessageError when the body is not such a pointer
     */
    public static function parsePointer(string $messageBody): array
    {
        try {
            $pointer = json_decode($messageBody, true, 8, JSON_THROW_ON_ERROR);
        } catch (\JsonException $e) {
            throw new MessageError('an ExtendedPayloadSize message whose body is not a pointer (not JSON)');
        }
        if (
            !is_array($pointer) || count($pointer) !== 2 || ($pointer[0] ?? null) !== self::POINTER_CLASS
            || !is_array($pointer[1] ?? null)
            || !is_string($pointer[1]['s3BucketName'] ?? null) || !is_string($pointer[1]['s3Key'] ?? null)
            || $pointer[1]['s3BucketName'] === '' || $pointer[1]['s3Key'] === ''
        ) {
            throw new MessageError('an ExtendedPayloadSize message whose body is not a ' . self::POINTER_CLASS);
        }
        return [$pointer[1]['s3BucketName'], $pointer[1]['s3Key']];
    }

    /**
     * The deduplication key: the event id, or under `id-conflict-of` the event id, `#` and the SHA-256
     * (hex) of the body, so a second body under a reused id is not dropped as a duplicate of the first.
     */
    public static function dedupeKey(string $eventId, ?string $conflictOf, string $body): string
    {
        return $conflictOf === null ? $eventId : $eventId . '#' . hash('sha256', $body);
    }

    /**
     * The event a message carries.
     *
     * @param array<string, string> $attributes the message attributes' string values, by name
     * @param BodyFetcher|null      $fetcher    reads a claim-check body from S3 (never deletes it)
     *
     * @throws MessageError      when the message breaks the contract (no event-id, bad encoding)
     * @throws BodyFetchError    when the claim-check body cannot be read (worth a retry)
     */
    public static function event(string $messageId, string $messageBody, array $attributes, ?BodyFetcher $fetcher): Event
    {
        $eventId = $attributes[self::ATTR_EVENT_ID] ?? '';
        if ($eventId === '') {
            throw new MessageError('the message has no event-id attribute');
        }
        if (isset($attributes[self::ATTR_EXTENDED_PAYLOAD_SIZE])) {
            [$bucket, $key] = self::parsePointer($messageBody);
            if ($fetcher === null) {
                throw new BodyFetchError('a claim-check message, and no S3 reader configured');
            }
            $body = $fetcher->fetch($bucket, $key);
            $size = $attributes[self::ATTR_EXTENDED_PAYLOAD_SIZE];
            if ((string) strlen($body) !== $size) {
                throw new BodyFetchError(sprintf('the S3 object s3://%s/%s holds %d bytes, the message says %s', $bucket, $key, strlen($body), $size));
            }
        } else {
            $body = self::decodeBody($messageBody, $attributes[self::ATTR_BODY_ENCODING] ?? null);
        }
        $conflictOf = $attributes[self::ATTR_ID_CONFLICT_OF] ?? null;
        return new Event(
            body: $body,
            id: $eventId,
            type: $attributes[self::ATTR_EVENT_TYPE] ?? null,
            source: $attributes[self::ATTR_SOURCE] ?? '',
            receivedAt: $attributes[self::ATTR_RECEIVED_AT] ?? null,
            conflictOf: $conflictOf,
            deliveredBy: $attributes[self::ATTR_DELIVERED_BY] ?? null,
            dedupeKey: self::dedupeKey($eventId, $conflictOf, $body),
            attributes: $attributes,
            messageId: $messageId,
        );
    }
}
