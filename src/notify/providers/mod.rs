//! Protocol clients for each provider, behind [`super::provider::Provider`].

pub mod aliyun;
pub mod apns;
pub mod email;
pub mod fcm;
pub mod huawei;
pub mod log;
pub mod oauth;
pub mod smpp;
pub mod tencent;
pub mod throttle;
