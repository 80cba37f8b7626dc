<?php

declare(strict_types=1);

namespace WebhookIngress\Worker;

use AsyncAws\Core\Configuration;
use AsyncAws\Core\Credentials\CacheProvider;
use AsyncAws\Core\Credentials\ChainProvider;
use AsyncAws\Core\Credentials\CredentialProvider;
use AsyncAws\Core\Request;
use AsyncAws\Core\RequestContext;
use AsyncAws\Core\Signer\SignerV4;
use AsyncAws\Core\Stream\StringStream;
use Symfony\Component\HttpClient\HttpClient;
use Symfony\Contracts\HttpClient\HttpClientInterface;

/**
 * GetObject of a claim-check body, signed with AsyncAws core's SigV4 signer and sent with Symfony
 * HttpClient (Debian packages no AsyncAws S3 client). Only GET: the object is never deleted.
 */
final class S3BodyFetcher implements BodyFetcher
{
    private HttpClientInterface $http;
    private CredentialProvider $credentials;
    private Configuration $configuration;

    /**
     * @param string      $region   the bucket's region
     * @param string|null $endpoint a custom endpoint (path-style URLs, e.g. a local emulator); null for AWS
     */
    public function __construct(
        private readonly string $region,
        private readonly ?string $endpoint = null,
        ?HttpClientInterface $http = null,
        ?CredentialProvider $credentials = null,
    ) {
        $this->http = $http ?? HttpClient::create(['timeout' => 30]);
        $this->credentials = $credentials ?? new CacheProvider(ChainProvider::createDefaultChain($this->http));
        $this->configuration = Configuration::create(['region' => $region]);
    }

    public function url(string $bucket, string $key): string
    {
        $path = implode('/', array_map('rawurlencode', explode('/', $key)));
        if ($this->endpoint !== null && $this->endpoint !== '') {
            return rtrim($this->endpoint, '/') . '/' . rawurlencode($bucket) . '/' . $path;
        }
        return sprintf('https://%s.s3.%s.amazonaws.com/%s', $bucket, $this->region, $path);
    }

    public function fetch(string $bucket, string $key): string
    {
        $credentials = $this->credentials->getCredentials($this->configuration);
        if ($credentials === null) {
            throw new BodyFetchError('no AWS credentials to read the claim-check body from S3');
        }
        $request = new Request('GET', '/', [], ['x-amz-content-sha256' => hash('sha256', '')], StringStream::create(''));
        $request->setEndpoint($this->url($bucket, $key));
        (new S3Signer('s3', $this->region))->sign($request, $credentials, new RequestContext());
        try {
            $response = $this->http->request('GET', $request->getEndpoint(), ['headers' => $request->getHeaders()]);
            $status = $response->getStatusCode();
            if ($status !== 200) {
                throw new BodyFetchError(sprintf('GET s3://%s/%s answered HTTP %d', $bucket, $key, $status));
            }
            return $response->getContent();
        } catch (\Symfony\Contracts\HttpClient\Exception\ExceptionInterface $e) {
            throw new BodyFetchError(sprintf('GET s3://%s/%s failed: %s', $bucket, $key, $e->getMessage()), 0, $e);
        }
    }
}
