<?php

declare(strict_types=1);

namespace WebhookIngress\Worker;

/** A claim-check body that cannot be read from S3 now: the message is left for a retry. */
final class BodyFetchError extends \RuntimeException
{
}
