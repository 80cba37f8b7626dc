<?php

declare(strict_types=1);

namespace WebhookIngress\Worker\Tests\Unit;

use PHPUnit\Framework\TestCase;
use WebhookIngress\Worker\Options;
use WebhookIngress\Worker\S3BodyFetcher;
use WebhookIngress\Worker\Store;

final class StoreAndOptionsTest extends TestCase
{
    public function testAKeyIsClaimedOnceAndARolledBackClaimLeavesNoTrace(): void
    {
        $store = Store::connect('sqlite::memory:');
        $store->migrate();
        $store->migrate(); // idempotent
        $pdo = $store->pdo;

        $pdo->beginTransaction();
        self::assertTrue($store->claim('evt-1', 'evt-1'));
        $pdo->rollBack();
        self::assertFalse($store->has('evt-1'));

        $pdo->beginTransaction();
        self::assertTrue($store->claim('evt-1', 'evt-1'));
        $pdo->commit();
        $pdo->beginTransaction();
        self::assertFalse($store->claim('evt-1', 'evt-1'));
        $pdo->rollBack();
        self::assertTrue($store->has('evt-1'));
        $at = $pdo->query("SELECT processed_at FROM processed_events WHERE dedupe_key = 'evt-1'")->fetchColumn();
        self::assertMatchesRegularExpression('/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/', $at);
    }

    public function testOtherErrorsAreNotTakenForDuplicates(): void
    {
        $store = Store::connect('sqlite::memory:', table: 'never_created');
        $store->pdo->beginTransaction();
        $this->expectException(\PDOException::class);
        $store->claim('k', 'k');
    }

    public function testEveryDriverHasDdlWithTheKeyTheIdAndTheTime(): void
    {
        foreach (['sqlite', 'pgsql', 'mysql'] as $driver) {
            $sql = implode("\n", Store::ddl($driver, 'events_done'));
            self::assertStringContainsString('CREATE TABLE IF NOT EXISTS events_done', $sql);
            foreach (['dedupe_key', 'event_id', 'processed_at', 'PRIMARY KEY'] as $column) {
                self::assertStringContainsString($column, $sql, $driver);
            }
        }
        $this->expectException(\InvalidArgumentException::class);
        Store::ddl('oci');
    }

    public function testTableNamesAreIdentifiersOnly(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        new Store(new \PDO('sqlite::memory:'), 'events; DROP TABLE x');
    }

    public function testBackoffDoublesPerReceiveUpToTheCap(): void
    {
        $options = new Options(backoffSeconds: 5, backoffMaxSeconds: 60);
        self::assertSame([5, 10, 20, 40, 60, 60], array_map([$options, 'backoff'], [1, 2, 3, 4, 5, 50]));
        self::assertSame(0, (new Options(backoffSeconds: 0))->backoff(3));
    }

    public function testOptionsComeFromTheEnvironmentAndAreChecked(): void
    {
        $options = Options::fromEnv(['WORKER_WAIT_SECONDS' => '1', 'WORKER_VISIBILITY_TIMEOUT' => '30', 'WORKER_BATCH_SIZE' => '', 'OTHER' => 'x']);
        self::assertSame([1, 30, 10], [$options->waitSeconds, $options->visibilityTimeout, $options->batchSize]);
        foreach ([['WORKER_WAIT_SECONDS' => '21'], ['WORKER_BATCH_SIZE' => '0'], ['WORKER_BACKOFF_SECONDS' => '-1'], ['WORKER_VISIBILITY_TIMEOUT' => '0']] as $env) {
            try {
                Options::fromEnv($env);
                self::fail(json_encode($env) . ' should be refused');
            } catch (\InvalidArgumentException $e) {
                self::assertStringContainsString('must be', $e->getMessage());
            }
        }
    }

    public function testClaimCheckUrlsEncodeTheKeyOnce(): void
    {
        $local = new S3BodyFetcher('eu-west-1', 'http://127.0.0.1:4566/');
        self::assertSame('http://127.0.0.1:4566/bodies/p/market%3Aevt%201/ab', $local->url('bodies', 'p/market:evt 1/ab'));
        $aws = new S3BodyFetcher('eu-west-1');
        self::assertSame('https://bodies.s3.eu-west-1.amazonaws.com/market%3Aevt-1/ab', $aws->url('bodies', 'market:evt-1/ab'));
    }
}
