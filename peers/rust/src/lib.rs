//! Correio reference peer in Rust, written from protocol/ alone: the canonical MessagePack codec
//! (codec, value), envelopes and the message decoder (message), Lamport clocks (clock), MDP/0.2
//! client and worker (mdp), the pub/sub subscriber (pubsub), a chat client (chat), and the types
//! generated from protocol/schemas/v1 by tools/codegen (protocol).
pub mod error;
pub mod value;
pub mod codec;
pub mod protocol;
pub mod message;
pub mod clock;
pub mod mdp;
pub mod pubsub;
pub mod chat;
