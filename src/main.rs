use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    scaikey::authn::hashing::tune_allocator();
    let cli = scaikey::cli::Cli::parse();
    match scaikey::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scaikey: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
