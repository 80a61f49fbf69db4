//! The `run` command's service plumbing: what the daemon needs from its supervisor (systemd)
//! beyond capturing and analysing, kept apart from the IO of [`crate::capture`].

pub mod capture;
pub mod notify;
pub mod records;
pub mod run;
