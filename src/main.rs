use std::process::ExitCode;

fn main() -> ExitCode {
    fwlog::cli::main()
}
