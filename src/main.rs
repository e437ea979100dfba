fn main() -> std::process::ExitCode {
    commonplace::cli::run()
}
