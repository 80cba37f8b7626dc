<?php

declare(strict_types=1);

namespace WebhookIngress\Worker;

use AsyncAws\Core\Request;
use AsyncAws\Core\Signer\SignerV4;

/** @internal S3's SigV4 variant: the canonical path is the URL's path as sent (not encoded twice). */
final class S3Signer extends SignerV4
{
    protected function buildCanonicalPath(Request $request): string
    {
        return '/' . ltrim($request->getUri(), '/');
    }
}
