//! A chat client: one user's session with the chat service (protocol/README.md, "A minimal
//! client"). Requests go through the broker, built from and read into the generated types of
//! crate::protocol; once logged in every request carries the access token as the envelope's
//! `auth` and no body `user`. The access token is exchanged for a new one a minute before it
//! expires. Stored messages read back merge their lc like received ones.
use std::time::Duration;

use serde::{de::DeserializeOwned, Serialize};

use crate::clock::{now_ms, Stamp};
use crate::error::Result;
use crate::fail;
use crate::mdp;
use crate::protocol::*;
use crate::value::Value;

/// Refresh the access token when less than this is left of it.
const REFRESH_MARGIN_MS: i64 = 60_000;

#[derive(Debug, Clone)]
struct Tokens {
    access: String,
    refresh: String,
    expires_at: i64,
}

pub struct Client {
    pub user: String,
    /// "chat" (any server) or "srv.<id>" (one server, as a sticky client).
    pub service: String,
    requests: mdp::Client,
    tokens: Option<Tokens>,
}

impl Client {
    pub fn new(context: &zmq::Context, broker: &str, user: &str, service: &str, stamp: Stamp, timeout: Duration, retries: u32) -> Result<Client> {
        let requests = mdp::Client::connect(context, broker, stamp, timeout, retries)?;
        Ok(Client { user: user.to_string(), service: service.to_string(), requests, tokens: None })
    }

    pub fn requests(&self) -> &mdp::Client {
        &self.requests
    }

    fn send<B: Serialize, R: DeserializeOwned>(&self, message_type: &str, body: &B, auth: Option<String>) -> Result<R> {
        self.requests.request(&self.service, message_type, Value::from_typed(body)?, auth)?.body_as()
    }

    /// A request acting as the logged-in user: with the access token, refreshed first when due.
    fn call<B: Serialize, R: DeserializeOwned>(&mut self, message_type: &str, body: &B) -> Result<R> {
        if let Some(tokens) = &self.tokens {
            if tokens.expires_at - now_ms() < REFRESH_MARGIN_MS {
                self.refresh()?;
            }
        }
        let auth = self.tokens.as_ref().map(|tokens| tokens.access.clone());
        self.send(message_type, body, auth)
    }

    /// The body user of requests that name one: none once logged in (the token says who acts).
    fn acting_user(&self) -> Option<String> {
        self.tokens.is_none().then(|| self.user.clone())
    }

    pub fn register(&mut self, password: &str) -> Result<ChatRegisterReply> {
        self.send("chat.register.request", &ChatRegisterRequest { user: self.user.clone(), password: password.to_string() }, None)
    }

    /// Logs in (no password: servers running --auth open) and keeps the tokens.
    pub fn login(&mut self, password: Option<&str>) -> Result<ChatLoginReply> {
        let request = ChatLoginRequest { user: self.user.clone(), password: password.map(str::to_string) };
        let reply: ChatLoginReply = self.send("chat.login.request", &request, None)?;
        self.tokens = match (&reply.token, &reply.refresh_token, reply.expires_at) {
            (Some(access), Some(refresh), Some(expires_at)) => Some(Tokens { access: access.clone(), refresh: refresh.clone(), expires_at }),
            _ => None,
        };
        Ok(reply)
    }

    pub fn refresh(&mut self) -> Result<ChatRefreshReply> {
        let Some(tokens) = &self.tokens else { return fail!("UNAUTHENTICATED", "not logged in: no refresh token") };
        let reply: ChatRefreshReply = self.send("chat.refresh.request", &ChatRefreshRequest { refresh_token: tokens.refresh.clone() }, None)?;
        self.tokens = Some(Tokens { access: reply.token.clone(), refresh: reply.refresh_token.clone(), expires_at: reply.expires_at });
        Ok(reply)
    }

    pub fn logout(&mut self) -> Result<ChatLogoutReply> {
        let reply = self.call("chat.logout.request", &ChatLogoutRequest {})?;
        self.tokens = None;
        Ok(reply)
    }

    pub fn change_password(&mut self, password: &str, new_password: &str) -> Result<ChatPasswordReply> {
        let request = ChatPasswordRequest { password: password.to_string(), new_password: new_password.to_string() };
        let reply = self.call("chat.password.request", &request)?;
        self.tokens = None; // every older token stops verifying: log in again
        Ok(reply)
    }

    pub fn users(&mut self, limit: Option<i64>, after: Option<String>) -> Result<ChatUsersReply> {
        self.call("chat.users.request", &ChatUsersRequest { limit, after })
    }

    pub fn channels(&mut self, limit: Option<i64>, after: Option<String>) -> Result<ChatChannelsReply> {
        self.call("chat.channels.request", &ChatChannelsRequest { limit, after })
    }

    pub fn create_channel(&mut self, channel: &str) -> Result<ChatChannelCreateReply> {
        let request = ChatChannelCreateRequest { channel: channel.to_string(), user: self.acting_user() };
        self.call("chat.channel.create.request", &request)
    }

    pub fn publish(&mut self, channel: &str, text: &str) -> Result<ChatPublishReply> {
        let request = ChatPublishRequest { channel: channel.to_string(), text: text.to_string(), user: self.acting_user() };
        self.call("chat.publish.request", &request)
    }

    pub fn direct(&mut self, to: &str, text: &str) -> Result<ChatDirectReply> {
        let request = ChatDirectRequest { to: to.to_string(), text: text.to_string(), user: self.acting_user() };
        self.call("chat.direct.request", &request)
    }

    pub fn history(&mut self, channel: &str, limit: Option<i64>, before: Option<String>) -> Result<ChatHistoryReply> {
        let reply: ChatHistoryReply = self.call("chat.history.request", &ChatHistoryRequest { channel: channel.to_string(), limit, before })?;
        for message in &reply.messages {
            self.requests.stamp.observe(message.lc);
        }
        Ok(reply)
    }

    pub fn conversation(&mut self, peer: &str, limit: Option<i64>, before: Option<String>) -> Result<ChatConversationReply> {
        let request = ChatConversationRequest { peer: peer.to_string(), limit, before, user: self.acting_user() };
        let reply: ChatConversationReply = self.call("chat.conversation.request", &request)?;
        for message in &reply.messages {
            self.requests.stamp.observe(message.lc);
        }
        Ok(reply)
    }

    /// A microservice action: service.call.request to svc.<service>, the action up to its last dot.
    pub fn call_action(&self, action: &str, params: Option<Value>) -> Result<Value> {
        let Some((service, _)) = action.rsplit_once('.').filter(|(service, _)| !service.is_empty()) else {
            return fail!("BAD_REQUEST", "an action is <service>.<method>, got {action:?}");
        };
        let mut body = Value::map([("action", Value::from(action))]);
        if let (Value::Map(map), Some(params)) = (&mut body, params) {
            map.insert("params".into(), params);
        }
        Ok(self.requests.request(&format!("svc.{service}"), "service.call.request", body, None)?.body)
    }
}
