//! How each handler (the stream's, the backfill's, verify's) becomes a `tower` `Service`, so that
//! `lambda_runtime::run(handler)` serves it: each invocation is handled by a clone (clones share
//! everything) through the handler's own `async fn call(&self, LambdaEvent<Box<RawValue>>)`.

/// `impl lambda_runtime::Service<LambdaEvent<Box<RawValue>>> for $handler`, answering with
/// `$handler::call(&clone, event)`: `Result<$response, $error>`.
macro_rules! lambda_service {
    ($handler:ty, $response:ty, $error:ty) => {
        /// `lambda_runtime::run(handler)`: each invocation is handled by a clone (clones share
        /// everything).
        impl
            ::lambda_runtime::Service<
                ::lambda_runtime::LambdaEvent<::std::boxed::Box<::serde_json::value::RawValue>>,
            > for $handler
        {
            type Response = $response;
            type Error = $error;
            type Future = ::std::pin::Pin<
                ::std::boxed::Box<
                    dyn ::std::future::Future<Output = ::std::result::Result<$response, $error>>
                        + ::std::marker::Send,
                >,
            >;

            fn poll_ready(
                &mut self,
                _: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::result::Result<(), $error>> {
                ::std::task::Poll::Ready(Ok(()))
            }

            fn call(
                &mut self,
                event: ::lambda_runtime::LambdaEvent<
                    ::std::boxed::Box<::serde_json::value::RawValue>,
                >,
            ) -> Self::Future {
                let handler = self.clone();
                ::std::boxed::Box::pin(async move { <$handler>::call(&handler, event).await })
            }
        }
    };
}

pub(crate) use lambda_service;
