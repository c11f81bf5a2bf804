//! One module per subcommand: each turns parsed arguments into library calls and
//! prints the result.

pub mod call;
pub mod fuzz;
pub mod info;
pub mod test;
