//! The `iamspec` command: parse arguments, run, print the error once, exit with its code.

use std::process::ExitCode;

fn main() -> ExitCode {
    iamspec::cli::main(std::env::args_os())
}
