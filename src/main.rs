fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(keyward::cli::run(std::env::args_os()))
}
