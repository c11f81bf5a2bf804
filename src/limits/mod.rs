//! Limits on a call: the memory budget, cancellation, deadlines and fuel.

pub(crate) mod budget;
pub(crate) mod call;
pub(crate) mod cancel;
pub(crate) mod clock;
pub(crate) mod linear;

pub use budget::{MAX_TABLE_ELEMENTS, PAGE_BYTES, TABLE_ELEMENT_BYTES};
pub use call::FUEL_SLICE;
pub use cancel::CancelHandle;
pub use clock::Clock;
#[cfg(feature = "std")]
pub use clock::SystemClock;
