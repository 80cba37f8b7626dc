<?php

declare(strict_types=1);

namespace WebhookIngress\Worker;

/** A message that breaks the contract (no event-id, a bad body-encoding): it goes to the DLQ through the retries. */
final class MessageError extends \RuntimeException
{
}
