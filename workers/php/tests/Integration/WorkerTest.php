<?php

declare(strict_types=1);

namespace WebhookIngress\Worker\Tests\Integration;

use PHPUnit\Framework\TestCase;
use AsyncAws\Core\Credentials\Credentials;
use WebhookIngress\Worker\S3BodyFetcher;

/**
 * The worker (bin/worker.php, as deployed) against moto, on messages the real ingress, sweeper and
 * outboxctl binaries put on the queue. Timeouts only guard hangs; every verdict is read from the
 * store, the queues and the worker's exit code.
 */
final class WorkerTest extends TestCase
{
    private static ?Stack $stack = null;
    /** The ingress of this test's queues. */
    private static string $ingress;
    private string $store;

    public static function setUpBeforeClass(): void
    {
        $dir = sys_get_temp_dir() . '/php-worker-it-' . bin2hex(random_bytes(4));
        mkdir($dir);
        self::$stack = new Stack($dir);
    }

    public static function tearDownAfterClass(): void
    {
        self::$stack?->stop();
        if (self::$stack !== null) {
            // Failures carry the worker's log in their message; the files are not needed after.
            array_map('unlink', glob(self::$stack->dir . '/*') ?: []);
            @rmdir(self::$stack->dir);
        }
    }

    protected function setUp(): void
    {
        $stack = self::$stack;
        $stack->newQueues();
        self::$ingress = $stack->ingress();
        @unlink("$stack->dir/release");
        $this->store = "$stack->dir/" . $this->getName(false) . '.db';
    }

    private static function id(string $name): string
    {
        return "msg_{$name}_" . bin2hex(random_bytes(4));
    }

    protected function tearDown(): void
    {
        self::$stack->stop();
    }

    /** @return list<array<string, mixed>> the handler's committed effects, in order */
    private function effects(): array
    {
        $pdo = new \PDO("sqlite:$this->store");
        $exists = $pdo->query("SELECT 1 FROM sqlite_master WHERE name = 'effects'")->fetchColumn();
        return $exists ? $pdo->query('SELECT * FROM effects ORDER BY seq')->fetchAll(\PDO::FETCH_ASSOC) : [];
    }

    /** @return list<string> */
    private function processedKeys(): array
    {
        return (new \PDO("sqlite:$this->store"))->query('SELECT dedupe_key FROM processed_events ORDER BY dedupe_key')->fetchAll(\PDO::FETCH_COLUMN);
    }

    private function runWorker(string $queueUrl, int $messages, array $env = []): Process
    {
        $worker = self::$stack->worker($queueUrl, $this->store, ['--max-messages', (string) $messages], $env);
        self::assertSame(0, $worker->wait(90), $worker->output());
        return $worker;
    }

    private function waitFor(callable $condition, string $what, float $guardSeconds = 30): void
    {
        $deadline = microtime(true) + $guardSeconds;
        while (!$condition()) {
            if (microtime(true) > $deadline) {
                self::fail("hang guard: still waiting after $guardSeconds s for $what");
            }
            usleep(50_000);
        }
    }

    public function testEveryBodyKindReachesTheHandlerAsTheExactBytes(): void
    {
        $stack = self::$stack;
        $bodies = [
            'plain' => json_encode(['type' => 'note.added', 'text' => "héllo\n\twörld ✓"], JSON_UNESCAPED_UNICODE),
            'binary' => "\x89PNG\r\n\x1a\n\x00\x00\xff\xfe",
            'control' => "{\"type\":\"note.bell\",\"text\":\"ring\x07\x00\"}",
            'empty' => '',
            'large' => json_encode(['type' => 'note.large', 'blob' => str_repeat('0123456789abcdef', 400 * 1024 / 16)]),
        ];
        $ids = [];
        foreach ($bodies as $kind => $body) {
            $ids[$kind] = self::id($kind);
            $stack->deliver(self::$ingress, $ids[$kind], $body);
        }
        $this->runWorker($stack->queueUrl, count($bodies));

        $effects = array_column($this->effects(), null, 'event_id');
        self::assertCount(count($bodies), $effects);
        foreach ($bodies as $kind => $body) {
            $effect = $effects[$ids[$kind]];
            self::assertSame(hash('sha256', $body), $effect['body_sha256'], "$kind body");
            self::assertSame(strlen($body), (int) $effect['body_len'], "$kind length");
            self::assertSame('ingress', $effect['delivered_by']);
            self::assertSame($ids[$kind], $effect['dedupe_key']);
            $attributes = json_decode($effect['attributes'], true);
            self::assertSame(Stack::SOURCE, $attributes['source']);
        }
        // The message kinds were the contract's: base64, empty, and a claim-check pointer.
        $attributes = fn (string $kind) => json_decode($effects[$ids[$kind]]['attributes'], true);
        self::assertSame('base64', $attributes('binary')['body-encoding']);
        self::assertSame('base64', $attributes('control')['body-encoding']);
        self::assertSame('empty', $attributes('empty')['body-encoding']);
        self::assertArrayNotHasKey('body-encoding', $attributes('plain'));
        self::assertSame((string) strlen($bodies['large']), $attributes('large')['ExtendedPayloadSize']);
        self::assertSame('note.large', $effects[$ids['large']]['type']);
        self::assertSame(0, $stack->depth($stack->queueUrl));
        // The claim-check object is still there after the message was deleted.
        $fetcher = new S3BodyFetcher(Stack::REGION, $stack->endpoint, credentials: new Credentials('test', 'test'));
        $key = Stack::SOURCE . ':' . $ids['large'] . '/' . hash('sha256', $bodies['large']);
        self::assertSame($bodies['large'], $fetcher->fetch($stack->bucket, $key));
    }

    public function testTheSweepersResendIsHandledLikeTheIngresssSend(): void
    {
        $stack = self::$stack;
        $id = self::id('swept');
        $stack->deliver($stack->ingressWithoutSqs(), $id, '{"type":"note.swept"}');
        self::assertSame(0, $stack->depth($stack->queueUrl), 'the ingress without SQS sent nothing');
        $stack->sweep();
        $this->runWorker($stack->queueUrl, 1);
        $effects = $this->effects();
        self::assertSame([[$id, 'sweeper', 'note.swept']], array_map(fn ($e) => [$e['event_id'], $e['delivered_by'], $e['type']], $effects));
    }

    public function testADuplicateIsDeletedWithoutCallingTheHandler(): void
    {
        $stack = self::$stack;
        // DynamoDB down: no row, so the provider's retry is sent again: two messages, one event.
        $url = $stack->ingressWithoutDynamoDb();
        $id = self::id('dup');
        $stack->deliver($url, $id, '{"type":"note.dup"}');
        $stack->deliver($url, $id, '{"type":"note.dup"}');
        self::assertSame(2, $stack->depth($stack->queueUrl));
        $worker = $this->runWorker($stack->queueUrl, 2);
        self::assertCount(1, $this->effects());
        self::assertSame([$id], $this->processedKeys());
        self::assertSame(0, $stack->depth($stack->queueUrl), 'both messages deleted');
        self::assertStringContainsString('"message":"duplicate"', $worker->output());
    }

    public function testTwoBodiesUnderOneIdAreEachHandledOnce(): void
    {
        $stack = self::$stack;
        $id = self::id('conflict');
        [$first, $second] = ['{"type":"note.v","v":1}', '{"type":"note.v","v":2}'];
        $stack->deliver(self::$ingress, $id, $first);
        $stack->deliver(self::$ingress, $id, $second);
        $stack->deliver(self::$ingress, $id, $second); // a retry of the second: a duplicate of its own row
        $this->runWorker($stack->queueUrl, 2);
        $effects = $this->effects();
        self::assertSame([[$id, null, hash('sha256', $first)], ["$id#" . hash('sha256', $second), hash('sha256', $first), hash('sha256', $second)]],
            array_map(fn ($e) => [$e['dedupe_key'], $e['conflict_of'], $e['body_sha256']], $effects));
        // Run again: nothing left, nothing applied twice.
        $again = self::$stack->worker($stack->queueUrl, $this->store, ['--once']);
        self::assertSame(0, $again->wait(60), $again->output());
        self::assertCount(2, $this->effects());
        self::assertSame(0, $stack->depth($stack->queueUrl));
    }

    public function testATestEventIsDeletedAndNeverHandled(): void
    {
        $stack = self::$stack;
        $testId = $stack->sendTest(self::$ingress);
        $worker = $this->runWorker($stack->queueUrl, 1);
        self::assertSame([], $this->effects());
        self::assertSame([], $this->processedKeys());
        self::assertSame(0, $stack->depth($stack->queueUrl));
        self::assertMatchesRegularExpression('/"message":"test".*"event_id":"' . $testId . '"/', $worker->output());
    }

    public function testAFailingHandlerIsRetriedThenTheMessageGoesToTheDlq(): void
    {
        $stack = self::$stack;
        $flaky = self::id('flaky');
        $poison = self::id('poison');
        $stack->deliver(self::$ingress, $flaky, '{"type":"fail.once"}');
        $stack->deliver(self::$ingress, $poison, '{"type":"fail.always"}');
        // maxReceiveCount is 5: the poison message fails 5 times; the flaky one once, then succeeds.
        $worker = $this->runWorker($stack->queueUrl, 7);
        self::assertSame([$flaky], array_column($this->effects(), 'event_id'), 'no effect of a failed try is kept');
        self::assertSame([$flaky], $this->processedKeys());
        self::assertSame(6, substr_count($worker->output(), '"message":"failed: left on the queue for a retry"'));
        // The next receive on the main queue moves the poison message to the DLQ.
        self::assertSame([], $stack->receive($stack->queueUrl, 1));
        $dead = $stack->receive($stack->dlqUrl, 5);
        self::assertCount(1, $dead);
        self::assertSame($poison, $dead[0]->getMessageAttributes()['event-id']->getStringValue());
    }

    public function testAFifoGroupIsHandledInOrderEvenWhenOneOfItFails(): void
    {
        $stack = self::$stack;
        $ids = [];
        foreach (['order.created', 'order.flaky', 'order.paid', 'order.shipped'] as $i => $type) {
            $ids[] = $id = self::id("fifo$i");
            $stack->deliver(self::$ingress, $id, json_encode(['type' => $type, 'order_id' => 'o-7', 'step' => $i]));
        }
        $stack->deliver(self::$ingress, $other = self::id('other'), json_encode(['type' => 'order.created', 'order_id' => 'o-8']));
        self::assertSame(0, $stack->depth($stack->queueUrl), 'orders were routed to the FIFO queue');
        // 5 events, one failure; the failed message holds back the later ones of its group.
        $worker = $this->runWorker($stack->fifoUrl, 6 + 2);
        $order = array_values(array_filter(array_column($this->effects(), 'event_id'), fn ($id) => $id !== $other));
        self::assertSame($ids, $order);
        self::assertContains($other, array_column($this->effects(), 'event_id'));
        self::assertSame(0, $stack->depth($stack->fifoUrl));
        self::assertStringContainsString('an earlier message of its FIFO group failed', $worker->output());
    }

    private function startedMarker(string $id): string
    {
        return self::$stack->dir . '/' . hash('sha256', $id) . '.started';
    }

    public function testAWorkerKilledInTheMiddleOfAHandlerAppliesTheEffectOnceAfterARestart(): void
    {
        $stack = self::$stack;
        $id = self::id('killed');
        $stack->deliver(self::$ingress, $id, '{"type":"block.me"}');
        $env = ['WORKER_VISIBILITY_TIMEOUT' => '2'];
        $first = $stack->worker($stack->queueUrl, $this->store, ['--max-messages', '1'], $env);
        $this->waitFor(fn () => file_exists($this->startedMarker($id)), 'the handler to start');
        $first->signal(SIGKILL);
        self::assertSame(128 + SIGKILL, $first->wait(10));
        self::assertSame([], $this->effects(), 'the uncommitted effect died with the worker');
        self::assertSame(1, $stack->depth($stack->queueUrl), 'the message is still on the queue');

        touch("$stack->dir/release");
        $this->runWorker($stack->queueUrl, 1, $env);
        self::assertSame([$id], array_column($this->effects(), 'event_id'));
        self::assertSame([$id], $this->processedKeys());
        self::assertSame(0, $stack->depth($stack->queueUrl));
    }

    public function testSigtermFinishesTheCurrentMessageAndReceivesNothingMore(): void
    {
        $stack = self::$stack;
        $busy = self::id('busy');
        $stack->deliver(self::$ingress, $busy, '{"type":"block.me"}');
        $worker = $stack->worker($stack->queueUrl, $this->store, [], ['WORKER_BATCH_SIZE' => '1']);
        $this->waitFor(fn () => file_exists($this->startedMarker($busy)), 'the handler to start');
        $later = self::id('later');
        $stack->deliver(self::$ingress, $later, '{"type":"note.later"}');
        $worker->signal(SIGTERM);
        // The handler is still running (its blocking wait was not cut short by the signal).
        usleep(300_000);
        self::assertTrue($worker->running(), 'the worker waits for its handler: ' . $worker->output());
        touch("$stack->dir/release");
        self::assertSame(0, $worker->wait(30), $worker->output());
        self::assertSame([$busy], array_column($this->effects(), 'event_id'));
        $left = $stack->receive($stack->queueUrl, 1);
        self::assertSame([$later], array_map(fn ($m) => $m->getMessageAttributes()['event-id']->getStringValue(), $left), 'the busy message was deleted, the later one never taken');
        self::assertStringContainsString('"message":"stop requested: finishing the current message","signal":"SIGTERM"', $worker->output());
    }

    public function testAHeartbeatKeepsAJobOfThreeTimeoutsInvisible(): void
    {
        $stack = self::$stack;
        $id = self::id('long');
        $stack->deliver(self::$ingress, $id, '{"type":"block.me"}');
        $timeout = 2;
        $worker = $stack->worker($stack->queueUrl, $this->store, ['--max-messages', '1'], ['WORKER_VISIBILITY_TIMEOUT' => (string) $timeout]);
        $this->waitFor(fn () => file_exists($this->startedMarker($id)), 'the handler to start');
        // For three visibility timeouts, a rival consumer finds nothing: the message stays invisible.
        $until = microtime(true) + 3 * $timeout;
        $polls = 0;
        while (microtime(true) < $until) {
            self::assertSame([], $stack->receive($stack->queueUrl, 1, 1), 'the message came back while its handler ran');
            $polls++;
        }
        self::assertGreaterThanOrEqual(3, $polls);
        touch("$stack->dir/release");
        self::assertSame(0, $worker->wait(30), $worker->output());
        self::assertSame([$id], array_column($this->effects(), 'event_id'));
        self::assertSame(0, $stack->depth($stack->queueUrl));
        self::assertStringContainsString('"message":"visibility extended"', $worker->output());
    }

    public function testAFailingStoreStopsTheWorkerInsteadOfFailingMessagesIntoTheDlq(): void
    {
        $stack = self::$stack;
        $id = self::id('locked');
        $stack->deliver(self::$ingress, $id, '{"type":"note.locked"}');
        $migrate = $stack->worker($stack->queueUrl, $this->store, ['--migrate']);
        self::assertSame(0, $migrate->wait(30), $migrate->output());
        // Another writer holds the database's write lock longer than the worker waits for it.
        $lock = new \PDO("sqlite:$this->store");
        $lock->exec('BEGIN IMMEDIATE');
        $lock->exec("INSERT INTO processed_events (dedupe_key, event_id) VALUES ('lock', 'lock')");
        $worker = $stack->worker($stack->queueUrl, $this->store, [], ['WORKER_SQLITE_BUSY_SECONDS' => '1']);
        self::assertSame(1, $worker->wait(60), $worker->output());
        self::assertStringContainsString('the store failed before the handler ran', $worker->output());
        $lock->exec('ROLLBACK');
        self::assertSame([], $this->effects());
        self::assertSame(1, $stack->depth($stack->queueUrl), 'the message stays on the queue');

        $this->runWorker($stack->queueUrl, 1);
        self::assertSame([$id], array_column($this->effects(), 'event_id'));
        self::assertSame(0, $stack->depth($stack->queueUrl));
    }
}
