//! Integration tests of the web layer: the real server on a real socket, the real
//! SurrealDB engine in memory, HTTP like a browser or an API client would send it.

mod helpers;

mod a11y;
mod auth;
mod bad_input;
mod browser;
mod calendar_page;
mod calendar_removal;
mod calendars;
mod capacity;
mod cluster;
mod conformance;
mod flow_journeys;
mod forms;
mod hardening;
mod icaljs;
mod journey;
mod kiosk_page;
mod mail;
mod nav;
mod notifications;
mod openapi_contract;
mod ops;
mod projects;
mod remote;
mod screens;
mod staff;
mod tenancy;
mod workflows;
mod ws;
mod ws_property;
