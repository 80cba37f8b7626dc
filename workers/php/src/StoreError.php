<?php

declare(strict_types=1);

namespace WebhookIngress\Worker;

/**
 * The store failed before a handler ran (no connection, a lock held too long, a read-only database):
 * the worker leaves its messages on the queue and exits 1, so the platform restarts it, rather than
 * failing every message into the DLQ.
 */
final class StoreError extends \RuntimeException
{
}
