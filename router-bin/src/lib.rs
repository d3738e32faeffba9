//! `mhrouter` as a library: the site configuration and the entry point that runs it.

pub mod config;
pub mod control;
pub mod run;
pub mod site;
pub mod summary;
