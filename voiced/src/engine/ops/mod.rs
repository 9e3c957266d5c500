//! What a user can do, one file per area: the requests and proposals
//! every action goes through, rooms, moderation, chat and room history,
//! audio, identity, bookmarks and trust.

mod access;
mod audio;
mod bookmarks;
mod chat;
mod files;
mod history;
mod identity;
mod media;
mod moderation;
mod relays;
mod requests;
mod roles;
mod rooms;
mod trust;
