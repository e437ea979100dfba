mod activities_agents;
mod alternate_syntax;
mod auth;
mod documents;
mod errors;
mod helpers;
mod http_rules;
mod versions;
