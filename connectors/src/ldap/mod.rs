//! LDAP upstream (Active Directory, OpenLDAP, 389-DS): password check by
//! bind, directory sync by paged search (full and delta), objectGUID /
//! entryUUID as the external id, nested groups, disabled accounts.

mod ad;
mod config;
mod conn;
mod entry;
mod login;
mod sync;

pub use config::{Config, DEFAULT_PAGE_SIZE, LdapFlavor, MAX_PAGE_SIZE};
pub use entry::guid_string;
pub use login::LdapLogin;
pub use sync::LdapDirectory;
