<?php

declare(strict_types=1);

namespace WebhookIngress\Worker\Tests\Unit;

use PHPUnit\Framework\TestCase;
use WebhookIngress\Worker\Store;

/**
 * The store on PostgreSQL and MySQL servers, when given one: WORKER_TEST_PGSQL_DSN /
 * WORKER_TEST_MYSQL_DSN (plus _USER and _PASSWORD), e.g. `pgsql:host=127.0.0.1;port=5432;dbname=test`.
 * SQLite is covered by StoreAndOptionsTest on every run.
 */
final class StoreDriversTest extends TestCase
{
    /** @return array<string, array{string}> */
    public function drivers(): array
    {
        return ['pgsql' => ['PGSQL'], 'mysql' => ['MYSQL']];
    }

    private function connect(string $name, string $table): Store
    {
        $dsn = getenv("WORKER_TEST_{$name}_DSN");
        if ($dsn === false || $dsn === '') {
            self::markTestSkipped("set WORKER_TEST_{$name}_DSN to run the store against that server");
        }
        $store = Store::connect($dsn, getenv("WORKER_TEST_{$name}_USER") ?: null, getenv("WORKER_TEST_{$name}_PASSWORD") ?: null, $table);
        $store->pdo->exec("DROP TABLE IF EXISTS $table");
        return $store;
    }

    /** @dataProvider drivers */
    public function testTheDdlRunsTwiceAndAKeyIsClaimedOnce(string $name): void
    {
        $table = 'processed_events_test_' . bin2hex(random_bytes(3));
        $store = $this->connect($name, $table);
        $store->migrate();
        $store->migrate();
        $pdo = $store->pdo;
        $long = str_repeat('e', 256) . '#' . hash('sha256', 'body');

        $pdo->beginTransaction();
        self::assertTrue($store->claim($long, str_repeat('e', 256)));
        $pdo->rollBack();
        self::assertFalse($store->has($long), 'a rolled-back claim leaves no key');

        $pdo->beginTransaction();
        self::assertTrue($store->claim($long, str_repeat('e', 256)));
        self::assertTrue($store->claim('évènement-1', 'évènement-1'));
        $pdo->commit();

        // A second claim fails as a duplicate (on PostgreSQL it also aborts the transaction: the
        // worker rolls back, which must work).
        $pdo->beginTransaction();
        self::assertFalse($store->claim($long, 'x'));
        $pdo->rollBack();
        self::assertTrue($store->has($long));
        self::assertFalse($store->has('Évènement-1'), 'keys compare exactly, case included');
        $pdo->beginTransaction();
        self::assertTrue($store->claim('Évènement-1', 'Évènement-1'));
        $pdo->commit();
        self::assertSame(3, (int) $pdo->query("SELECT COUNT(*) FROM $table WHERE processed_at IS NOT NULL")->fetchColumn());
        $pdo->exec("DROP TABLE $table");
    }
}
