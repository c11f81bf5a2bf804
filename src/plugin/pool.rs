//! `Pool`: plug-in instances made on demand and lent to many threads, in the shape of
//! the `extism` crate's pool.
//!
//! A pool holds a function that makes a [`Plugin`] (usually
//! `Plugin::new_from_compiled` on a shared [`CompiledPlugin`](crate::CompiledPlugin)).
//! [`Pool::get`] lends an idle instance, makes a new one while fewer than
//! `max_instances` exist, or waits up to a timeout for one to come back. An instance
//! returns to the pool when its [`PoolPlugin`] is dropped. As with the official
//! runtime, a checkout does not instantiate a new plug-in: its first call does.
//!
//! # Examples
//!
//! ```
//! use interplug::{CompiledPlugin, Plugin, PluginBuilder, PoolBuilder, Wasm, Manifest};
//! use std::time::Duration;
//!
//! let manifest = Manifest::new([Wasm::file("spec-tests/fixtures/count_vowels.wasm")]);
//! let compiled = CompiledPlugin::new(PluginBuilder::new(manifest))?;
//! let pool = PoolBuilder::new()
//!     .with_max_instances(2)
//!     .build(move || Plugin::new_from_compiled(&compiled));
//! let output: String = pool
//!     .get(Duration::from_secs(1))?
//!     .expect("an instance within a second")
//!     .call("count_vowels", "aei")?;
//! assert!(output.contains(r#""count":3"#));
//! assert_eq!(pool.count(), 1);
//! # Ok::<(), interplug::Error>(())
//! ```

use crate::{
    host::convert::{FromBytesOwned, ToBytes},
    Error, Plugin,
};
use std::{
    collections::{BTreeMap, VecDeque},
    ops::{Deref, DerefMut},
    string::ToString,
    sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, Weak},
    time::{Duration, Instant},
};

/// Settings of a [`Pool`].
#[derive(Debug, Clone)]
pub struct PoolBuilder {
    /// Most instances in existence at once (idle or lent). Default: the number of
    /// CPUs.
    pub max_instances: usize,
}

impl PoolBuilder {
    /// The default settings.
    pub fn new() -> Self {
        PoolBuilder::default()
    }

    /// Sets the most instances in existence at once (a pool of 0 never lends one).
    pub fn with_max_instances(mut self, n: usize) -> Self {
        self.max_instances = n;
        self
    }

    /// A pool whose instances `source` makes.
    pub fn build<F: 'static + Fn() -> Result<Plugin, Error> + Send + Sync>(
        self,
        source: F,
    ) -> Pool {
        Pool::new_from_builder(source, self)
    }
}

impl Default for PoolBuilder {
    fn default() -> Self {
        PoolBuilder {
            max_instances: std::thread::available_parallelism().map_or(1, usize::from),
        }
    }
}

/// The function that makes an instance.
type PluginSource = dyn Fn() -> Result<Plugin, Error> + Send + Sync;

/// What the pool's lock guards.
struct PoolState {
    idle: VecDeque<Plugin>,
    /// Instances in existence or being made.
    live: usize,
}

struct Shared {
    source: Box<PluginSource>,
    max_instances: usize,
    state: Mutex<PoolState>,
    returned: Condvar,
    /// `function_exists` answers, by name (they do not change between instances).
    known_functions: RwLock<BTreeMap<String, bool>>,
}

impl Shared {
    fn lock(&self) -> Result<MutexGuard<'_, PoolState>, Error> {
        self.state
            .lock()
            .map_err(|_| crate::error::fail!(Host, "the plug-in pool's lock is poisoned: a thread panicked while holding it; make a new pool"))
    }
}

/// Instances of one plug-in lent to many threads; cloning shares the pool.
#[derive(Clone)]
pub struct Pool {
    shared: Arc<Shared>,
}

impl Pool {
    /// A pool with the default settings ([`PoolBuilder::default`]).
    pub fn new<F: 'static + Fn() -> Result<Plugin, Error> + Send + Sync>(source: F) -> Self {
        Pool::new_from_builder(source, PoolBuilder::default())
    }

    /// A pool with `builder`'s settings.
    pub fn new_from_builder<F: 'static + Fn() -> Result<Plugin, Error> + Send + Sync>(
        source: F,
        builder: PoolBuilder,
    ) -> Self {
        Pool {
            shared: Arc::new(Shared {
                source: Box::new(source),
                max_instances: builder.max_instances,
                state: Mutex::new(PoolState {
                    idle: VecDeque::new(),
                    live: 0,
                }),
                returned: Condvar::new(),
                known_functions: RwLock::new(BTreeMap::new()),
            }),
        }
    }

    /// Instances in existence (idle or lent).
    pub fn count(&self) -> usize {
        self.shared.lock().map_or(0, |state| state.live)
    }

    /// An instance: an idle one, a new one, or the first one returned within
    /// `timeout`; `Ok(None)` when none came back in time.
    ///
    /// # Errors
    ///
    /// The source's error when making a new instance failed;
    /// [`ErrorKind::Host`](crate::ErrorKind::Host) when the pool's lock is poisoned
    /// (host code panicked while holding it).
    pub fn get(&self, timeout: Duration) -> Result<Option<PoolPlugin>, Error> {
        let shared = &self.shared;
        let deadline = Instant::now().checked_add(timeout);
        let mut state = shared.lock()?;
        loop {
            if let Some(plugin) = state.idle.pop_front() {
                return Ok(Some(self.lend(plugin)));
            }
            if state.live < shared.max_instances {
                state.live += 1;
                drop(state);
                return match (shared.source)() {
                    Ok(plugin) => Ok(Some(self.lend(plugin))),
                    Err(error) => {
                        if let Ok(mut state) = shared.lock() {
                            state.live -= 1;
                        }
                        shared.returned.notify_one();
                        Err(error)
                    }
                };
            }
            let left = match deadline {
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left,
                    _ => return Ok(None),
                },
                None => Duration::from_secs(3600),
            };
            state = shared
                .returned
                .wait_timeout(state, left)
                .map_err(|_| crate::error::fail!(Host, "the plug-in pool's lock is poisoned: a thread panicked while holding it; make a new pool"))?
                .0;
        }
    }

    /// Runs `f` on an instance; `Ok(None)` when none was free within `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Pool::get`], or `f`'s error.
    pub fn with_plugin<T>(
        &self,
        timeout: Duration,
        f: impl FnOnce(&mut Plugin) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        match self.get(timeout)? {
            Some(mut plugin) => f(&mut plugin).map(Some),
            None => Ok(None),
        }
    }

    /// True when the plug-in has the function `name`; answers are remembered.
    /// `Ok(false)` when no instance was free within `timeout` to ask.
    ///
    /// # Errors
    ///
    /// As [`Pool::get`].
    pub fn function_exists(&self, name: &str, timeout: Duration) -> Result<bool, Error> {
        if let Some(known) = self
            .shared
            .known_functions
            .read()
            .ok()
            .and_then(|known| known.get(name).copied())
        {
            return Ok(known);
        }
        let Some(plugin) = self.get(timeout)? else {
            return Ok(false);
        };
        let exists = plugin.function_exists(name);
        if let Ok(mut known) = self.shared.known_functions.write() {
            known.insert(name.to_string(), exists);
        }
        Ok(exists)
    }

    fn lend(&self, plugin: Plugin) -> PoolPlugin {
        PoolPlugin {
            plugin: Some(plugin),
            pool: Arc::downgrade(&self.shared),
        }
    }
}

/// An instance lent by a [`Pool`]; use it as a [`Plugin`]. Dropping it returns it.
pub struct PoolPlugin {
    /// `Some` until dropped.
    plugin: Option<Plugin>,
    pool: Weak<Shared>,
}

impl core::fmt::Debug for PoolPlugin {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PoolPlugin")
            .field("plugin", &self.plugin.as_ref().map(|p| p.id))
            .finish()
    }
}

impl PoolPlugin {
    /// Calls `name` with `input` (as [`Plugin::call`], with an owned result).
    ///
    /// # Errors
    ///
    /// As [`Plugin::call`].
    pub fn call<'a, Input: ToBytes<'a>, Output: FromBytesOwned>(
        &mut self,
        name: impl AsRef<str>,
        input: Input,
    ) -> Result<Output, Error> {
        self.deref_mut().call(name.as_ref(), input)
    }

    /// The instance's id.
    pub fn id(&self) -> uuid::Uuid {
        self.deref().id
    }
}

impl Deref for PoolPlugin {
    type Target = Plugin;
    fn deref(&self) -> &Plugin {
        match &self.plugin {
            Some(plugin) => plugin,
            None => unreachable!("a PoolPlugin holds its plug-in until it is dropped"),
        }
    }
}

impl DerefMut for PoolPlugin {
    fn deref_mut(&mut self) -> &mut Plugin {
        match &mut self.plugin {
            Some(plugin) => plugin,
            None => unreachable!("a PoolPlugin holds its plug-in until it is dropped"),
        }
    }
}

impl Drop for PoolPlugin {
    fn drop(&mut self) {
        let (Some(plugin), Some(shared)) = (self.plugin.take(), self.pool.upgrade()) else {
            return;
        };
        if let Ok(mut state) = shared.state.lock() {
            state.idle.push_back(plugin);
        }
        shared.returned.notify_one();
    }
}
