package grpcsession_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httptest"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sessiongen/sessiongen/runtime/grpcsession"

	session "github.com/sessiongen/sessiongen/runtime"
)

// A gRPC server whose handlers see the session an HTTP login made: the
// client sends the session's token with WithToken, and the handler
// reads and writes the session as an HTTP handler would.
func Example() {
	m, err := session.New()
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	// An HTTP login starts the session and hands out its token.
	var token string
	login := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if err := s.Set(r.Context(), "user", "ada"); err != nil {
			http.Error(w, "session unavailable", http.StatusInternalServerError)
			return
		}
		token = s.ID() // the client keeps it (never log it: it is a bearer token)
	}))
	login.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/login", nil))

	// The gRPC server: the interceptor attaches the session.
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(grpcsession.UnaryServerInterceptor(m)))
	srv.RegisterService(&greeterDesc, greeter(func(ctx context.Context, _ *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		s := session.FromContext(ctx) // nil for a call without a token
		user, _, err := session.Value[string](s, "user")
		if err != nil {
			return wrapperspb.String("hello, stranger"), nil
		}
		return wrapperspb.String("hello, " + user), nil
	}))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	// The client.
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	for _, ctx := range []context.Context{
		grpcsession.WithToken(context.Background(), token),
		context.Background(),
	} {
		out := new(wrapperspb.StringValue)
		if err := conn.Invoke(ctx, "/example.Greeter/Hello", wrapperspb.String(""), out); err != nil {
			log.Fatal(err)
		}
		fmt.Println(out.GetValue())
	}
	// Output:
	// hello, ada
	// hello, stranger
}

// greeter is the example's one-method service, written by hand (protoc
// would generate it from a .proto file).
type greeter func(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error)

var greeterDesc = grpc.ServiceDesc{
	ServiceName: "example.Greeter",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Hello",
		Handler: func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			h := func(ctx context.Context, req any) (any, error) {
				return srv.(greeter)(ctx, req.(*wrapperspb.StringValue))
			}
			if ic == nil {
				return h(ctx, in)
			}
			return ic(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: "/example.Greeter/Hello"}, h)
		},
	}},
}

// The options for bearer tokens ("authorization: Bearer <token>"), on
// the server and on the client.
func ExampleWithScheme() {
	m, err := session.New()
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	bearer := []grpcsession.Option{
		grpcsession.WithMetadataKey("authorization"),
		grpcsession.WithScheme("Bearer"),
	}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(grpcsession.UnaryServerInterceptor(m, append(bearer, grpcsession.Required())...)),
		grpc.ChainStreamInterceptor(grpcsession.StreamServerInterceptor(m, append(bearer, grpcsession.Required())...)),
	)
	defer srv.Stop()

	ctx := grpcsession.WithToken(context.Background(), "TOKEN", bearer...)
	md, _ := metadata.FromOutgoingContext(ctx)
	fmt.Println(md.Get("authorization"))
	// Output: [Bearer TOKEN]
}
