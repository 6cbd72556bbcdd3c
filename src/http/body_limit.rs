//! Request body limit: bodies over the limit are refused with 413 before anything reads them.
//! (poem's `SizeLimit` also refuses bodiless requests without `Content-Length`, which would break
//! every GET.)

use poem::error::ReadBodyError;
use poem::http::header;
use poem::{Endpoint, Middleware, Request, Result};

pub struct BodyLimit(pub usize);

impl<E: Endpoint> Middleware<E> for BodyLimit {
    type Output = BodyLimitEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        BodyLimitEndpoint {
            inner: ep,
            limit: self.0,
        }
    }
}

pub struct BodyLimitEndpoint<E> {
    inner: E,
    limit: usize,
}

impl<E: Endpoint> Endpoint for BodyLimitEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        match declared {
            Some(length) if length > self.limit as u64 => {
                return Err(ReadBodyError::PayloadTooLarge.into());
            }
            Some(_) => {}
            None if req.headers().contains_key(header::TRANSFER_ENCODING) => {
                // A streamed body of unknown length: read at most the limit.
                let bytes = req.take_body().into_bytes_limit(self.limit).await?;
                req.set_body(bytes);
            }
            None => {}
        }
        self.inner.call(req).await
    }
}
