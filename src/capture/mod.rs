//! Capture: informal learning recorded by the Commonplace browser extension
//! (`extension/`), under the learner's control. A learner enrols with a one-time code
//! and gets a credential bound to them; the extension asks the store's capture policy
//! before it sends anything. This module holds what needs no I/O: the codes, the
//! policy's shape, the rules of a bound credential, and the extension package.

pub mod binding;
pub mod enrolment;
pub mod package;
pub mod policy;
