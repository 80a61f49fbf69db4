//! The `run` command's service plumbing: what the daemon needs from its supervisor (systemd)
//! beyond capturing and analysing, kept apart from the IO of [`crate::capture`].

pub mod notify;
