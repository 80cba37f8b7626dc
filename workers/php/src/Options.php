<?php

declare(strict_types=1);

namespace WebhookIngress\Worker;

/** The consumer loop's tuning, from WORKER_* variables (see the README). */
final class Options
{
    public function __construct(
        /** ReceiveMessage's long-poll wait, 0 to 20 s (WORKER_WAIT_SECONDS, default 20). */
        public readonly int $waitSeconds = 20,
        /** Visibility timeout for received messages; null: the queue's own (WORKER_VISIBILITY_TIMEOUT). */
        public readonly ?int $visibilityTimeout = null,
        /** First retry delay after a failure, doubled per receive (WORKER_BACKOFF_SECONDS, default 5). */
        public readonly int $backoffSeconds = 5,
        /** Longest retry delay (WORKER_BACKOFF_MAX_SECONDS, default 900). */
        public readonly int $backoffMaxSeconds = 900,
        /** Messages per ReceiveMessage, 1 to 10 (WORKER_BATCH_SIZE, default 10). */
        public readonly int $batchSize = 10,
    ) {
        foreach (['waitSeconds' => [0, 20], 'backoffSeconds' => [0, 43200], 'backoffMaxSeconds' => [0, 43200], 'batchSize' => [1, 10]] as $name => [$min, $max]) {
            if ($this->$name < $min || $this->$name > $max) {
                throw new \InvalidArgumentException(sprintf('%s must be between %d and %d, not %d', $name, $min, $max, $this->$name));
            }
        }
        if ($visibilityTimeout !== null && ($visibilityTimeout < 1 || $visibilityTimeout > 43200)) {
            throw new \InvalidArgumentException(sprintf('the visibility timeout must be between 1 and 43200 s, not %d', $visibilityTimeout));
        }
    }

    /** @param array<string, string|false> $env */
    public static function fromEnv(array $env): self
    {
        $int = static function (string $name, ?int $default) use ($env): ?int {
            $value = $env[$name] ?? false;
            if ($value === false || $value === '') {
                return $default;
            }
            if (!preg_match('/^\d{1,6}$/', $value)) {
                throw new \InvalidArgumentException(sprintf('%s must be a whole number of seconds or messages, not %s', $name, json_encode($value)));
            }
            return (int) $value;
        };
        return new self(
            waitSeconds: $int('WORKER_WAIT_SECONDS', 20),
            visibilityTimeout: $int('WORKER_VISIBILITY_TIMEOUT', null),
            backoffSeconds: $int('WORKER_BACKOFF_SECONDS', 5),
            backoffMaxSeconds: $int('WORKER_BACKOFF_MAX_SECONDS', 900),
            batchSize: $int('WORKER_BATCH_SIZE', 10),
        );
    }

    /** The delay before the next try of a message received `$receiveCount` times. */
    public function backoff(int $receiveCount): int
    {
        $exponent = max(0, min($receiveCount - 1, 20));
        return (int) min($this->backoffMaxSeconds, $this->backoffSeconds * (2 ** $exponent));
    }
}
