<?php

declare(strict_types=1);

// An example handler: records each order event in the same database as the processed-events table,
// inside the transaction the worker opened, so the row and the deduplication key commit together.
//   WORKER_STORE_DSN=sqlite:/tmp/worker.db QUEUE_URL=... php bin/worker.php --handler examples/handler.php

use WebhookIngress\Worker\Event;

return function (Event $event, \PDO $tx): void {
    // SQLite, for the example only: create your tables with your migrations (on MySQL, DDL commits).
    $tx->exec('CREATE TABLE IF NOT EXISTS webhook_events (dedupe_key TEXT PRIMARY KEY, event_type TEXT, bytes INTEGER)');
    $insert = $tx->prepare('INSERT INTO webhook_events (dedupe_key, event_type, bytes) VALUES (?, ?, ?)');
    $insert->execute([$event->dedupeKey, $event->type, strlen($event->body)]);
    // An effect outside the database (an e-mail, a payment API) cannot join the transaction: pass
    // $event->dedupeKey as that service's idempotency key so a retry does not repeat it.
};
