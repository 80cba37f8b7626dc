<?php

declare(strict_types=1);

namespace WebhookIngress\Worker;

use AsyncAws\Sqs\SqsClient;
use AsyncAws\Sqs\ValueObject\Message;

/**
 * The consumer loop: receive, decode, deduplicate and handle in one transaction, delete after commit.
 *
 * Per message, in the order received: decode the body (base64, empty, claim check), skip a test event,
 * then in one PDO transaction insert the deduplication key and run the handler; commit, then delete
 * the message. A key already stored: delete without calling the handler. A failure: roll back and
 * leave the message, invisible for a backoff, so SQS redrives it to the DLQ after maxReceiveCount.
 * On a FIFO queue a failed message holds back the rest of its group in the batch, keeping the order.
 */
final class Worker
{
    private bool $stopping = false;
    private ?int $visibilityTimeout;
    /** @var array<string, int> outcome => count */
    private array $counts = ['processed' => 0, 'duplicate' => 0, 'test' => 0, 'failed' => 0, 'released' => 0];

    /**
     * @param callable(Event, \PDO): void $handler
     * @param \Closure(): SqsClient       $newClient builds an SQS client (the loop's own, and one per heartbeat)
     */
    public function __construct(
        private readonly \Closure $newClient,
        private readonly string $queueUrl,
        private readonly Store $store,
        private $handler,
        private readonly ?BodyFetcher $fetcher,
        private readonly Options $options = new Options(),
        private readonly Logger $log = new Logger(),
        private ?SqsClient $sqs = null,
    ) {
        if (!is_callable($handler)) {
            throw new \InvalidArgumentException('the handler is not callable');
        }
        $this->sqs ??= ($newClient)();
        $this->visibilityTimeout = $options->visibilityTimeout;
    }

    /** Asks the loop to finish the current message and receive nothing more (safe from a signal handler). */
    public function stop(): void
    {
        $this->stopping = true;
    }

    /** @return array<string, int> */
    public function counts(): array
    {
        return $this->counts;
    }

    /** Stops on SIGTERM and SIGINT after the current message; both are held back while a handler runs. */
    public function stopOnSignals(): void
    {
        pcntl_async_signals(true);
        foreach ([SIGTERM, SIGINT] as $signal) {
            pcntl_signal($signal, function (int $signal): void {
                $this->log->info('stop requested: finishing the current message', ['signal' => $signal === SIGTERM ? 'SIGTERM' : 'SIGINT']);
                $this->stop();
            });
        }
    }

    /**
     * Runs until stopped, after one receive (`$once`), or after `$maxMessages` messages.
     */
    public function run(bool $once = false, ?int $maxMessages = null): void
    {
        $timeout = $this->visibilityTimeout();
        $this->log->info('worker started', ['queue' => $this->queueUrl, 'visibility_timeout' => $timeout]);
        $seen = 0;
        while (!$this->stopping && ($maxMessages === null || $seen < $maxMessages)) {
            $want = min($this->options->batchSize, $maxMessages === null ? 10 : $maxMessages - $seen);
            $request = [
                'QueueUrl' => $this->queueUrl,
                'MaxNumberOfMessages' => $want,
                'WaitTimeSeconds' => $this->options->waitSeconds,
                'MessageAttributeNames' => ['All'],
                'AttributeNames' => ['ApproximateReceiveCount', 'MessageGroupId'],
            ];
            if ($this->options->visibilityTimeout !== null) {
                $request['VisibilityTimeout'] = $this->options->visibilityTimeout;
            }
            $messages = $this->sqs->receiveMessage($request)->getMessages();
            $seen += $this->handleBatch(is_array($messages) ? $messages : iterator_to_array($messages, false), $timeout);
            if ($once) {
                break;
            }
        }
        $this->log->info('worker stopped', $this->counts);
    }

    /**
     * @param list<Message> $messages
     * @return int how many were handled (not released on a stop)
     */
    private function handleBatch(array $messages, int $timeout): int
    {
        $failedGroups = [];
        $extendedAt = microtime(true);
        $handled = 0;
        foreach ($messages as $i => $message) {
            $rest = array_slice($messages, $i);
            if ($this->stopping) {
                $this->release($rest, 'stopping');
                break;
            }
            // Messages waiting behind slow ones: keep them invisible too.
            if (microtime(true) - $extendedAt > $timeout / 3) {
                $this->extend($rest, $timeout);
                $extendedAt = microtime(true);
            }
            $group = $message->getAttributes()['MessageGroupId'] ?? null;
            if ($group !== null && isset($failedGroups[$group])) {
                $this->release([$message], 'an earlier message of its FIFO group failed');
                $handled++;
                continue;
            }
            try {
                $ok = $this->handleOne($message, array_map(fn (Message $m) => (string) $m->getReceiptHandle(), $rest), $timeout);
            } catch (StoreError $e) {
                $this->release(array_slice($rest, 1), 'the store failed');
                throw $e;
            }
            if (!$ok && $group !== null) {
                $failedGroups[$group] = true;
            }
            $handled++;
        }
        return $handled;
    }

    /**
     * @param list<string> $receiptHandles this message's, then the batch's later ones
     * @return bool false when the message failed and was left for a retry
     */
    private function handleOne(Message $message, array $receiptHandles, int $timeout): bool
    {
        $attributes = self::stringAttributes($message);
        $fields = ['message_id' => $message->getMessageId(), 'event_id' => $attributes[Contract::ATTR_EVENT_ID] ?? null];
        try {
            $event = Contract::event((string) $message->getMessageId(), (string) $message->getBody(), $attributes, $this->fetcher);
        } catch (MessageError | BodyFetchError $e) {
            return $this->fail($message, $fields, $e);
        }
        $fields['delivered_by'] = $event->deliveredBy;
        if ($event->isTest()) {
            $this->delete($message, $fields, 'test');
            return true;
        }
        $fields['dedupe_key'] = $event->dedupeKey;

        $pdo = $this->store->pdo;
        $heartbeat = new Heartbeat($this->newClient, $this->queueUrl, $timeout, $this->log);
        // SIGTERM and SIGINT wait until the handler is done (and do not cut its sleeps or reads short).
        pcntl_sigprocmask(SIG_BLOCK, [SIGTERM, SIGINT]);
        $heartbeat->start($receiptHandles);
        $inHandler = false;
        try {
            $pdo->beginTransaction();
            if (!$this->store->claim($event->dedupeKey, $event->id)) {
                $pdo->rollBack();
                $outcome = 'duplicate';
            } else {
                $inHandler = true;
                ($this->handler)($event, $pdo);
                if (!$pdo->inTransaction()) {
                    throw new \LogicException('the handler committed or rolled back the transaction it was given');
                }
                $pdo->commit();
                $outcome = 'processed';
            }
        } catch (\Throwable $e) {
            if ($pdo->inTransaction()) {
                try {
                    $pdo->rollBack();
                } catch (\PDOException) {
                    // The connection is gone; the transaction went with it.
                }
            }
            $failure = $e;
        } finally {
            $heartbeat->stop();
            pcntl_sigprocmask(SIG_UNBLOCK, [SIGTERM, SIGINT]);
        }
        if (isset($failure) && !$inHandler && $failure instanceof \PDOException) {
            // The store itself failed (unreachable, locked, read-only): every message would fail the
            // same way and reach the DLQ. Leave this one for a retry and stop the worker instead.
            $this->fail($message, $fields, $failure);
            throw new StoreError('the store failed before the handler ran: ' . $failure->getMessage(), 0, $failure);
        }
        if (isset($failure)) {
            return $this->fail($message, $fields, $failure);
        }
        $this->delete($message, $fields, $outcome);
        return true;
    }

    /** @param array<string, mixed> $fields */
    private function delete(Message $message, array $fields, string $outcome): void
    {
        $this->counts[$outcome]++;
        try {
            $this->sqs->deleteMessage(['QueueUrl' => $this->queueUrl, 'ReceiptHandle' => $message->getReceiptHandle()])->resolve();
            $this->log->info($outcome, $fields);
        } catch (\Throwable $e) {
            // Committed: a redelivery finds the key and is deleted as a duplicate.
            $this->log->warn($outcome . ', but the delete failed: it will come back as a duplicate', $fields + ['error' => $e->getMessage()]);
        }
    }

    /** @param array<string, mixed> $fields */
    private function fail(Message $message, array $fields, \Throwable $e): bool
    {
        $this->counts['failed']++;
        $receives = (int) ($message->getAttributes()['ApproximateReceiveCount'] ?? 1);
        $delay = $this->options->backoff($receives);
        $this->log->error('failed: left on the queue for a retry', $fields + [
            'error' => get_class($e) . ': ' . $e->getMessage(),
            'receive_count' => $receives,
            'retry_in_seconds' => $delay,
        ]);
        $this->changeVisibility([$message], $delay);
        return false;
    }

    /** @param list<Message> $messages */
    private function release(array $messages, string $why): void
    {
        if ($messages === []) {
            return;
        }
        $this->counts['released'] += count($messages);
        $this->log->info('released unhandled', ['messages' => count($messages), 'why' => $why]);
        $this->changeVisibility($messages, 0);
    }

    /** @param list<Message> $messages */
    private function extend(array $messages, int $timeout): void
    {
        $this->changeVisibility($messages, $timeout);
    }

    /** @param list<Message> $messages */
    private function changeVisibility(array $messages, int $seconds): void
    {
        $entries = [];
        foreach (array_values($messages) as $i => $message) {
            $entries[] = ['Id' => "m$i", 'ReceiptHandle' => $message->getReceiptHandle(), 'VisibilityTimeout' => $seconds];
        }
        try {
            $this->sqs->changeMessageVisibilityBatch(['QueueUrl' => $this->queueUrl, 'Entries' => $entries])->resolve();
        } catch (\Throwable $e) {
            // The message comes back anyway, after the visibility timeout.
            $this->log->warn('cannot change the visibility', ['error' => $e->getMessage(), 'seconds' => $seconds]);
        }
    }

    private function visibilityTimeout(): int
    {
        if ($this->visibilityTimeout === null) {
            $attributes = $this->sqs->getQueueAttributes(['QueueUrl' => $this->queueUrl, 'AttributeNames' => ['VisibilityTimeout']])->getAttributes();
            $this->visibilityTimeout = max(1, (int) ($attributes['VisibilityTimeout'] ?? 30));
        }
        return $this->visibilityTimeout;
    }

    /**
     * The message attributes' values by name (String and Number types; binary ones are left out).
     *
     * @return array<string, string>
     */
    public static function stringAttributes(Message $message): array
    {
        $values = [];
        foreach ($message->getMessageAttributes() as $name => $value) {
            if ($value->getStringValue() !== null) {
                $values[$name] = $value->getStringValue();
            }
        }
        return $values;
    }
}
