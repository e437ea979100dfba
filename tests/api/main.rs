mod activities_agents;
mod alternate_syntax;
mod auth;
mod errors;
mod helpers;
mod http_rules;
mod versions;
