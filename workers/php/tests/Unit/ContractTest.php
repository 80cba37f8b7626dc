<?php

declare(strict_types=1);

namespace WebhookIngress\Worker\Tests\Unit;

use PHPUnit\Framework\TestCase;
use WebhookIngress\Worker\BodyFetcher;
use WebhookIngress\Worker\BodyFetchError;
use WebhookIngress\Worker\Contract;
use WebhookIngress\Worker\MessageError;

final class ContractTest extends TestCase
{
    private const ATTRS = [
        'event-id' => 'msg_1',
        'source' => 'market',
        'event-type' => 'order.paid',
        'received-at' => '2026-12-07T10:00:00.123Z',
        'delivered-by' => 'ingress',
    ];

    public function testAPlainBodyIsTheBytesAsTheyAre(): void
    {
        $event = Contract::event('m-1', "{\"a\":\"é\"}\n", self::ATTRS, null);
        self::assertSame("{\"a\":\"é\"}\n", $event->body);
        self::assertSame('msg_1', $event->id);
        self::assertSame('msg_1', $event->dedupeKey);
        self::assertSame('order.paid', $event->type);
        self::assertSame('market', $event->source);
        self::assertSame('2026-12-07T10:00:00.123Z', $event->receivedAt);
        self::assertSame('ingress', $event->deliveredBy);
        self::assertNull($event->conflictOf);
        self::assertSame(self::ATTRS, $event->attributes);
        self::assertSame('m-1', $event->messageId);
        self::assertFalse($event->isTest());
    }

    public function testABase64BodyIsDecodedToItsExactBytes(): void
    {
        $bytes = "\x00\xff\xfe binary \x07";
        $event = Contract::event('m', base64_encode($bytes), self::ATTRS + ['body-encoding' => 'base64'], null);
        self::assertSame($bytes, $event->body);
    }

    public function testAnEmptyBodyIsNoBytesNotThePlaceholder(): void
    {
        $event = Contract::event('m', '-', self::ATTRS + ['body-encoding' => 'empty'], null);
        self::assertSame('', $event->body);
    }

    public function testInvalidBase64AndUnknownEncodingsAreContractErrors(): void
    {
        foreach ([['base64', '!!not base64!!'], ['gzip', 'abc']] as [$encoding, $body]) {
            try {
                Contract::decodeBody($body, $encoding);
                self::fail("$encoding should not decode");
            } catch (MessageError $e) {
                self::assertStringContainsString($encoding === 'gzip' ? 'unknown body-encoding "gzip"' : 'not valid base64', $e->getMessage());
            }
        }
    }

    public function testAMessageWithoutEventIdIsAContractError(): void
    {
        $this->expectException(MessageError::class);
        Contract::event('m', '{}', ['source' => 'market'], null);
    }

    public function testAConflictingBodyGetsTheIdAndItsOwnSha256AsKey(): void
    {
        $first = hash('sha256', '{"v":1}');
        $event = Contract::event('m', '{"v":2}', self::ATTRS + ['id-conflict-of' => $first], null);
        self::assertSame($first, $event->conflictOf);
        self::assertSame('msg_1#' . hash('sha256', '{"v":2}'), $event->dedupeKey);
        // The key depends on the body, so the two bodies under one id never share a key...
        self::assertNotSame(Contract::dedupeKey('msg_1', $first, '{"v":1}'), $event->dedupeKey);
        // ...and a re-send of the conflicting body has the same key as its first delivery.
        self::assertSame($event->dedupeKey, Contract::dedupeKey('msg_1', $first, '{"v":2}'));
        self::assertSame('msg_1', Contract::dedupeKey('msg_1', null, '{"v":2}'));
    }

    public function testAClaimCheckPointerIsReadThroughTheFetcherAndSizeChecked(): void
    {
        $fetcher = new class implements BodyFetcher {
            /** @var list<array{string, string}> */
            public array $calls = [];

            public function fetch(string $bucket, string $key): string
            {
                $this->calls[] = [$bucket, $key];
                return str_repeat('x', 5);
            }
        };
        $pointer = '["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"bodies","s3Key":"market:msg_1/ab"}]';
        $event = Contract::event('m', $pointer, self::ATTRS + ['ExtendedPayloadSize' => '5'], $fetcher);
        self::assertSame('xxxxx', $event->body);
        self::assertSame([['bodies', 'market:msg_1/ab']], $fetcher->calls);

        $this->expectException(BodyFetchError::class);
        Contract::event('m', $pointer, self::ATTRS + ['ExtendedPayloadSize' => '6'], $fetcher);
    }

    public function testOnlyThePointerFormatIsAPointer(): void
    {
        self::assertSame(['b', 'k/1'], Contract::parsePointer('["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"b","s3Key":"k/1"}]'));
        foreach ([
            '["other.Class",{"s3BucketName":"b","s3Key":"k"}]',
            '["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"b"}]',
            '["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"","s3Key":"k"}]',
            '{"s3BucketName":"b","s3Key":"k"}',
            'not json',
        ] as $body) {
            try {
                Contract::parsePointer($body);
                self::fail("$body is not a pointer");
            } catch (MessageError) {
                self::addToAssertionCount(1);
            }
        }
    }

    public function testTestEventsAreRecognisedByTheirType(): void
    {
        $attrs = ['event-type' => 'outboxctl.test', 'event-id' => 'outboxctl-test-1'] + self::ATTRS;
        self::assertTrue(Contract::event('m', '{}', $attrs, null)->isTest());
        self::assertFalse(Contract::event('m', '{}', ['event-type' => 'outboxctl.tests'] + self::ATTRS, null)->isTest());
        self::assertFalse(Contract::event('m', '{}', ['event-id' => 'x'], null)->isTest());
    }

    public function testTheExampleHandlerRecordsTheEventInTheTransaction(): void
    {
        $handler = require __DIR__ . '/../../examples/handler.php';
        $pdo = new \PDO('sqlite::memory:', null, null, [\PDO::ATTR_ERRMODE => \PDO::ERRMODE_EXCEPTION]);
        $pdo->beginTransaction();
        $handler(Contract::event('m', '{"a":1}', self::ATTRS, null), $pdo);
        $pdo->commit();
        self::assertSame([['msg_1', 'order.paid', 7]], $pdo->query('SELECT dedupe_key, event_type, bytes FROM webhook_events')->fetchAll(\PDO::FETCH_NUM));
    }
}
