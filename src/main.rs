fn main() -> std::process::ExitCode {
    keyward::temp_file::remove_on_signals();
    let code = keyward::cli::run(std::env::args_os());
    keyward::temp_file::hold_if_ending();
    std::process::ExitCode::from(code)
}
