<?php

declare(strict_types=1);

namespace WebhookIngress\Worker;

use AsyncAws\Sqs\SqsClient;

/**
 * Keeps messages invisible while a handler runs: a forked child that, every third of the visibility
 * timeout, sets the messages' visibility to the whole timeout again (ChangeMessageVisibilityBatch).
 * A child, not a timer signal, so a handler blocked in a long call (a query, a sleep, an HTTP
 * request) is neither interrupted nor left without heartbeats. The child has its own SQS client, never
 * touches the parent's connections, and ends by SIGKILL so no destructor of an inherited object runs.
 */
final class Heartbeat
{
    private ?int $child = null;

    /**
     * @param \Closure(): SqsClient $newClient builds a fresh client (in the child)
     */
    public function __construct(
        private readonly \Closure $newClient,
        private readonly string $queueUrl,
        private readonly int $visibilityTimeout,
        private readonly Logger $log,
    ) {
    }

    /** @param list<string> $receiptHandles the message being handled first, then those waiting behind it */
    public function start(array $receiptHandles): void
    {
        $this->stop();
        $parent = getmypid();
        $pid = pcntl_fork();
        if ($pid === -1) {
            $this->log->warn('cannot fork the visibility heartbeat; a handler longer than the visibility timeout may run twice');
            return;
        }
        if ($pid > 0) {
            $this->child = $pid;
            return;
        }
        // The child.
        foreach ([SIGTERM, SIGINT] as $signal) {
            pcntl_signal($signal, SIG_DFL);
        }
        try {
            $this->beat($parent, array_slice($receiptHandles, 0, 10));
        } catch (\Throwable $e) {
            $this->log->warn('visibility heartbeat failed', ['error' => $e->getMessage()]);
        }
        posix_kill(getmypid(), SIGKILL);
        exit(0); // not reached
    }

    public function stop(): void
    {
        if ($this->child !== null) {
            posix_kill($this->child, SIGKILL);
            pcntl_waitpid($this->child, $status);
            $this->child = null;
        }
    }

    /** @param list<string> $receiptHandles */
    private function beat(int $parent, array $receiptHandles): void
    {
        $interval = max(1, (int) round($this->visibilityTimeout * 1_000_000 / 3));
        $sqs = ($this->newClient)();
        $entries = [];
        foreach ($receiptHandles as $i => $handle) {
            $entries[] = ['Id' => "m$i", 'ReceiptHandle' => $handle, 'VisibilityTimeout' => $this->visibilityTimeout];
        }
        while (true) {
            usleep($interval);
            if (posix_getppid() !== $parent) {
                return; // the worker is gone: let the messages come back
            }
            $result = $sqs->changeMessageVisibilityBatch(['QueueUrl' => $this->queueUrl, 'Entries' => $entries]);
            $failed = count($result->getFailed());
            $this->log->info('visibility extended', ['messages' => count($entries) - $failed, 'seconds' => $this->visibilityTimeout]);
        }
    }
}
