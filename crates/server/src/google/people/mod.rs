//! Two-way Google Contacts (People API) sync: [`inbound`] (Google → contacts), [`outbound`] (contacts →
//! Google) and the field [`mapping`] both use.

pub mod inbound;
pub mod mapping;
pub mod outbound;
