//! The fuzzing pass: coverage counters, a trap location and comparison tracing,
//! recorded in a memory the pass adds (the plug-in's own code has no instruction
//! that addresses it; the host reads it through the export [`MEMORY_EXPORT`]).
//!
//! What the instrumented code records, per call:
//! - an 8-bit hit counter per basic block (function entry, loop header, both arms of
//!   every `if`, the join after a `block` or `if`, the fall-through of `br_if`);
//!   an `if` without `else` gets an empty one so that both edges count;
//! - the block that ran last and a shadow stack of the call sites below it (calls
//!   to imports excluded), so a trap has a location;
//! - for every integer comparison (`eq`, `ne`, `lt`, `gt`, `le`, `ge` of i32 and
//!   i64) its operands, how often it ran and how often they were equal, and the low
//!   bytes of both operands of its first 16 executions (a compare loop over a
//!   keyword shows up there byte by byte), through one helper function per type
//!   that returns the operands unchanged.
//!
//! The layout of the memory is described by [`Layout`]; [`crate::fuzzing`] reads it.

use super::additions::Additions;
use super::function::FunctionRewriter;
use super::info::ModuleInfo;
use super::pass::Pass;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use anyhow::Error;
use wasm_encoder::{Function, Instruction as I, MemArg, ValType};
use wasmparser::Operator;

/// The name the instrumentation memory is exported as.
pub const MEMORY_EXPORT: &str = crate::kernel::abi::FUZZ_MEMORY_EXPORT;

/// Offset of the id of the block that ran last (u32).
pub const LAST_BLOCK: u32 = 0;
/// Offset of the shadow call-stack depth (u32).
pub const DEPTH: u32 = 4;
/// Offset of the number of comparison sites that ran in this call (u32).
pub const TOUCHED_COUNT: u32 = 8;
/// Offset of the shadow call stack: [`STACK_SLOTS`] u32 block ids of call sites,
/// entry `depth % STACK_SLOTS` is the innermost.
pub const STACK: u32 = 16;
/// Entries of the shadow call stack (a ring: deeper stacks keep the innermost).
pub const STACK_SLOTS: u32 = 64;
/// Offset of the block hit counters (one byte per block).
pub const COUNTERS: u32 = STACK + STACK_SLOTS * 4;
/// Bytes of one comparison record.
pub const SITE_BYTES: u32 = 64;
/// Executions of a comparison whose operand bytes are kept.
pub const SITE_HISTORY: u32 = 16;

/// Offsets inside one comparison record.
pub mod site {
    /// Left operand of the last execution (u64, zero-extended).
    pub const LEFT: u32 = 0;
    /// Right operand of the last execution (u64).
    pub const RIGHT: u32 = 8;
    /// Executions in this call (u32).
    pub const COUNT: u32 = 16;
    /// Executions whose operands were equal (u32).
    pub const EQUAL: u32 = 20;
    /// Low bytes of the left operand of the first executions.
    pub const LEFT_BYTES: u32 = 24;
    /// Low bytes of the right operand of the first executions.
    pub const RIGHT_BYTES: u32 = 40;
}

/// Where things are in the instrumentation memory of one module.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Layout {
    /// Number of block counters (at [`COUNTERS`]).
    pub blocks: u32,
    /// Number of comparison sites.
    pub sites: u32,
    /// Offset of the comparison records ([`SITE_BYTES`] each).
    pub sites_at: u32,
    /// Offset of the list of sites that ran (u32 each, [`TOUCHED_COUNT`] of them).
    pub touched_at: u32,
    /// Bytes used.
    pub size: u32,
}

impl Layout {
    fn new(blocks: u32, sites: u32) -> Self {
        let sites_at = (COUNTERS + blocks + 7) & !7;
        let touched_at = sites_at + sites * SITE_BYTES;
        Layout {
            blocks,
            sites,
            sites_at,
            touched_at,
            size: touched_at + sites * 4,
        }
    }
}

/// A block with a counter: the function it is in and the offset (in the original
/// module) of the instruction it starts after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockSite {
    /// The function (index in the original module).
    pub function: u32,
    /// Offset in the original module's bytes.
    pub offset: u32,
}

/// A traced comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompareSite {
    /// The function (index in the original module).
    pub function: u32,
    /// Offset of the comparison in the original module's bytes.
    pub offset: u32,
    /// Width in bytes of the value compared: that of a load right before the
    /// comparison (1, 2, 4 or 8), else of the type (4 or 8).
    pub width: u8,
    /// Whether it compares i64 values.
    pub wide: bool,
}

/// What the pass produced besides the module: how to read what it records.
#[derive(Debug, Clone, Default)]
pub struct CoverageMap {
    /// Memory layout.
    pub layout: Layout,
    /// Every counted block, by id.
    pub blocks: Vec<BlockSite>,
    /// Every traced comparison, by id.
    pub compares: Vec<CompareSite>,
    /// Function names from the name section (original indices).
    pub function_names: BTreeMap<u32, String>,
    /// Offset of each function body in the original module (original indices).
    pub body_offsets: BTreeMap<u32, u32>,
}

/// The pass. Run it with [`super::rewrite`], then take [`FuzzPass::map`].
#[derive(Debug, Default)]
pub struct FuzzPass {
    /// The result, complete after rewriting.
    pub map: CoverageMap,
    memory: u32,
    trace32: u32,
    trace64: u32,
    imported_functions: u32,
}

impl FuzzPass {
    /// A new pass.
    pub fn new() -> Self {
        FuzzPass::default()
    }

    fn mem(&self, offset: u32, align: u32) -> MemArg {
        MemArg {
            offset: u64::from(offset),
            align,
            memory_index: self.memory,
        }
    }

    /// Counts a block and records it as the last one.
    fn count(&mut self, body: &mut FunctionRewriter<'_>, offset: usize) -> u32 {
        let id = self.map.blocks.len() as u32;
        self.map.blocks.push(BlockSite {
            function: body.index,
            offset: offset as u32,
        });
        let counter = self.mem(COUNTERS + id, 0);
        body.emit(&I::I32Const(0));
        body.emit(&I::I32Const(0));
        body.emit(&I::I32Load8U(counter));
        body.emit(&I::I32Const(1));
        body.emit(&I::I32Add);
        body.emit(&I::I32Store8(counter));
        self.set_last(body, id);
        id
    }

    fn set_last(&self, body: &mut FunctionRewriter<'_>, id: u32) {
        body.emit(&I::I32Const(0));
        body.emit(&I::I32Const(id as i32));
        body.emit(&I::I32Store(self.mem(LAST_BLOCK, 2)));
    }

    /// Adds `delta` to the shadow stack depth.
    fn step_depth(&self, body: &mut FunctionRewriter<'_>, up: bool) {
        body.emit(&I::I32Const(0));
        body.emit(&I::I32Const(0));
        body.emit(&I::I32Load(self.mem(DEPTH, 2)));
        body.emit(&I::I32Const(1));
        body.emit(if up { &I::I32Add } else { &I::I32Sub });
        body.emit(&I::I32Store(self.mem(DEPTH, 2)));
    }

    /// Before a call: push the call site's block.
    fn push_call(&self, body: &mut FunctionRewriter<'_>, block: u32) {
        self.step_depth(body, true);
        body.emit(&I::I32Const(0));
        body.emit(&I::I32Load(self.mem(DEPTH, 2)));
        body.emit(&I::I32Const(STACK_SLOTS as i32 - 1));
        body.emit(&I::I32And);
        body.emit(&I::I32Const(2));
        body.emit(&I::I32Shl);
        body.emit(&I::I32Const(block as i32));
        body.emit(&I::I32Store(self.mem(STACK, 2)));
    }

    /// After a call returned: pop, and the caller's block runs again.
    fn pop_call(&self, body: &mut FunctionRewriter<'_>, block: u32) {
        self.step_depth(body, false);
        self.set_last(body, block);
    }

    /// The helper recording one comparison of `ty` operands.
    fn trace_body(&self, wide: bool, layout: &Layout) -> Function {
        let (a, b, site, base, n) = (0, 1, 2, 3, 4);
        let mut f = Function::new([(2, ValType::I32)]);
        let m = |offset: u32, align: u32| self.mem(offset, align);
        f.instruction(&I::LocalGet(site))
            .instruction(&I::I32Const(6))
            .instruction(&I::I32Shl)
            .instruction(&I::I32Const(layout.sites_at as i32))
            .instruction(&I::I32Add)
            .instruction(&I::LocalSet(base));
        for (operand, at) in [(a, site::LEFT), (b, site::RIGHT)] {
            f.instruction(&I::LocalGet(base))
                .instruction(&I::LocalGet(operand));
            if !wide {
                f.instruction(&I::I64ExtendI32U);
            }
            f.instruction(&I::I64Store(m(at, 3)));
        }
        // First execution in this call: list the site.
        f.instruction(&I::LocalGet(base))
            .instruction(&I::I32Load(m(site::COUNT, 2)))
            .instruction(&I::LocalTee(n))
            .instruction(&I::I32Eqz)
            .instruction(&I::If(wasm_encoder::BlockType::Empty))
            .instruction(&I::I32Const(0))
            .instruction(&I::I32Load(m(TOUCHED_COUNT, 2)))
            .instruction(&I::I32Const(2))
            .instruction(&I::I32Shl)
            .instruction(&I::LocalGet(site))
            .instruction(&I::I32Store(m(layout.touched_at, 2)))
            .instruction(&I::I32Const(0))
            .instruction(&I::I32Const(0))
            .instruction(&I::I32Load(m(TOUCHED_COUNT, 2)))
            .instruction(&I::I32Const(1))
            .instruction(&I::I32Add)
            .instruction(&I::I32Store(m(TOUCHED_COUNT, 2)))
            .instruction(&I::End);
        f.instruction(&I::LocalGet(base))
            .instruction(&I::LocalGet(n))
            .instruction(&I::I32Const(1))
            .instruction(&I::I32Add)
            .instruction(&I::I32Store(m(site::COUNT, 2)));
        // Operand bytes of the first executions.
        f.instruction(&I::LocalGet(n))
            .instruction(&I::I32Const(SITE_HISTORY as i32))
            .instruction(&I::I32LtU)
            .instruction(&I::If(wasm_encoder::BlockType::Empty));
        for (operand, at) in [(a, site::LEFT_BYTES), (b, site::RIGHT_BYTES)] {
            f.instruction(&I::LocalGet(base))
                .instruction(&I::LocalGet(n))
                .instruction(&I::I32Add)
                .instruction(&I::LocalGet(operand));
            let store = if wide {
                I::I64Store8(m(at, 0))
            } else {
                I::I32Store8(m(at, 0))
            };
            f.instruction(&store);
        }
        f.instruction(&I::End);
        // Equal outcomes.
        f.instruction(&I::LocalGet(base))
            .instruction(&I::LocalGet(base))
            .instruction(&I::I32Load(m(site::EQUAL, 2)))
            .instruction(&I::LocalGet(a))
            .instruction(&I::LocalGet(b))
            .instruction(if wide { &I::I64Eq } else { &I::I32Eq })
            .instruction(&I::I32Add)
            .instruction(&I::I32Store(m(site::EQUAL, 2)))
            .instruction(&I::LocalGet(a))
            .instruction(&I::LocalGet(b))
            .instruction(&I::End);
        f
    }
}

/// Whether an operator is a traced comparison, and whether it is an i64 one.
fn comparison(op: &Operator<'_>) -> Option<bool> {
    use Operator as O;
    match op {
        O::I32Eq
        | O::I32Ne
        | O::I32LtS
        | O::I32LtU
        | O::I32GtS
        | O::I32GtU
        | O::I32LeS
        | O::I32LeU
        | O::I32GeS
        | O::I32GeU => Some(false),
        O::I64Eq
        | O::I64Ne
        | O::I64LtS
        | O::I64LtU
        | O::I64GtS
        | O::I64GtU
        | O::I64LeS
        | O::I64LeU
        | O::I64GeS
        | O::I64GeU => Some(true),
        _ => None,
    }
}

/// Bytes an integer load reads (0 for other operators).
fn load_width(op: &Operator<'_>) -> u8 {
    use Operator as O;
    match op {
        O::I32Load8U { .. } | O::I32Load8S { .. } | O::I64Load8U { .. } | O::I64Load8S { .. } => 1,
        O::I32Load16U { .. }
        | O::I32Load16S { .. }
        | O::I64Load16U { .. }
        | O::I64Load16S { .. } => 2,
        O::I32Load { .. } | O::I64Load32U { .. } | O::I64Load32S { .. } => 4,
        O::I64Load { .. } => 8,
        _ => 0,
    }
}

fn is_const(op: &Operator<'_>) -> bool {
    matches!(op, Operator::I32Const { .. } | Operator::I64Const { .. })
}

/// Kinds of open control blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    Block,
    Loop,
    If { has_else: bool },
}

impl Pass for FuzzPass {
    fn begin(&mut self, module: &ModuleInfo, add: &mut Additions) -> Result<(), Error> {
        self.imported_functions = module.imported_functions;
        self.map.function_names = module.function_names.clone();
        self.memory = add.add_memory(wasm_encoder::MemoryType {
            minimum: 1,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        let t32 = add.add_type(
            [ValType::I32, ValType::I32, ValType::I32],
            [ValType::I32, ValType::I32],
        );
        let t64 = add.add_type(
            [ValType::I64, ValType::I64, ValType::I32],
            [ValType::I64, ValType::I64],
        );
        // Placeholder bodies: the layout is known at the end.
        let placeholder = || {
            let mut f = Function::new([]);
            f.instruction(&I::Unreachable).instruction(&I::End);
            f
        };
        self.trace32 = add.add_function(t32, placeholder());
        self.trace64 = add.add_function(t64, placeholder());
        add.export(MEMORY_EXPORT, wasm_encoder::ExportKind::Memory, self.memory);
        Ok(())
    }

    fn function(
        &mut self,
        _module: &ModuleInfo,
        _add: &mut Additions,
        body: &mut FunctionRewriter<'_>,
    ) -> Result<(), Error> {
        self.map
            .body_offsets
            .insert(body.index, body.body_offset as u32);
        let mut frames: Vec<Frame> = Vec::new();
        let mut current = self.count(body, body.body_offset);
        // The two operators before the current one, for load widths.
        let mut previous: [Option<Operator<'_>>; 2] = [None, None];
        while let Some((op, offset)) = body.next_operator()? {
            let remembered = op.clone();
            match &op {
                Operator::Block { .. } => {
                    frames.push(Frame::Block);
                    body.keep(op)?;
                }
                Operator::Loop { .. } => {
                    frames.push(Frame::Loop);
                    body.keep(op)?;
                    current = self.count(body, offset);
                }
                Operator::If { .. } => {
                    frames.push(Frame::If { has_else: false });
                    body.keep(op)?;
                    current = self.count(body, offset);
                }
                Operator::Else => {
                    if let Some(Frame::If { has_else }) = frames.last_mut() {
                        *has_else = true;
                    }
                    body.keep(op)?;
                    current = self.count(body, offset);
                }
                Operator::End => match frames.pop() {
                    None => body.keep(op)?,
                    Some(frame) => {
                        if frame == (Frame::If { has_else: false }) {
                            body.emit(&I::Else);
                            self.count(body, offset);
                        }
                        body.keep(op)?;
                        if frame != Frame::Loop {
                            current = self.count(body, offset);
                        }
                    }
                },
                Operator::BrIf { .. } => {
                    body.keep(op)?;
                    current = self.count(body, offset);
                }
                Operator::Call { function_index } if *function_index < self.imported_functions => {
                    body.keep(op)?;
                }
                Operator::Call { .. } | Operator::CallIndirect { .. } => {
                    self.push_call(body, current);
                    body.keep(op)?;
                    self.pop_call(body, current);
                }
                other => {
                    if let Some(wide) = comparison(other) {
                        let width = match &previous {
                            [_, Some(p)] if load_width(p) > 0 => load_width(p),
                            [Some(p), Some(c)] if is_const(c) && load_width(p) > 0 => load_width(p),
                            _ if wide => 8,
                            _ => 4,
                        };
                        let id = self.map.compares.len() as u32;
                        self.map.compares.push(CompareSite {
                            function: body.index,
                            offset: offset as u32,
                            width,
                            wide,
                        });
                        body.emit(&I::I32Const(id as i32));
                        body.emit(&I::Call(if wide { self.trace64 } else { self.trace32 }));
                    }
                    body.keep(op)?;
                }
            }
            previous = [previous[1].take(), Some(remembered)];
        }
        Ok(())
    }

    fn finish(&mut self, _module: &ModuleInfo, add: &mut Additions) -> Result<(), Error> {
        let layout = Layout::new(self.map.blocks.len() as u32, self.map.compares.len() as u32);
        self.map.layout = layout;
        let pages = u64::from(layout.size).div_ceil(65536).max(1);
        if let Some(memory) = add.memories.last_mut() {
            memory.minimum = pages;
        }
        add.set_function_body(self.trace32, self.trace_body(false, &layout))?;
        add.set_function_body(self.trace64, self.trace_body(true, &layout))?;
        Ok(())
    }
}
